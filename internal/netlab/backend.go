package netlab

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// backendSrv is the backends' servers, in the lab process (see
// Backends).
type backendSrv struct {
	mu    sync.Mutex
	elems map[netip.Addr]*backendElem
	srvs  []*http.Server
}

// ElementState is what a backend element does with requests.
type ElementState int

// The states of an element.
const (
	Alive  ElementState = iota // answers 200 "ok"
	Dead                       // resets the connection (kill)
	Frozen                     // never answers (freeze)
)

func (s ElementState) String() string {
	return [...]string{"alive", "dead", "frozen"}[s]
}

type backendElem struct {
	state  ElementState
	thaw   chan struct{} // closed when a frozen element is revived
	probes []Probe
}

// Probe is one request an element got.
type Probe struct {
	At   time.Time
	From netip.Addr // the prober's address
}

func newBackendSrv() *backendSrv {
	return &backendSrv{elems: map[netip.Addr]*backendElem{}}
}

// serve starts a server on port of every address of namespace netns.
func (b *backendSrv) serve(netns string, port int) error {
	var ln net.Listener
	err := (&ns{name: netns}).Do(func() (err error) {
		ln, err = net.Listen("tcp", net.JoinHostPort("0.0.0.0", strconv.Itoa(port)))
		return err
	})
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: http.HandlerFunc(b.handle), IdleTimeout: time.Minute, ReadHeaderTimeout: 10 * time.Second}
	b.mu.Lock()
	b.srvs = append(b.srvs, srv)
	b.mu.Unlock()
	go srv.Serve(ln)
	return nil
}

// elem returns the element of address a, made alive if new; b.mu is held.
func (b *backendSrv) elem(a netip.Addr) *backendElem {
	e := b.elems[a]
	if e == nil {
		e = &backendElem{}
		b.elems[a] = e
	}
	return e
}

func (b *backendSrv) handle(w http.ResponseWriter, r *http.Request) {
	la, _ := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	ta, _ := la.(*net.TCPAddr)
	if ta == nil {
		http.Error(w, "no local address", http.StatusInternalServerError)
		return
	}
	self, _ := netip.AddrFromSlice(ta.IP)
	self = self.Unmap()
	from, _ := netip.ParseAddrPort(r.RemoteAddr)
	now := time.Now()
	b.mu.Lock()
	e := b.elem(self)
	e.probes = append(e.probes, Probe{At: now, From: from.Addr().Unmap()})
	state, thaw := e.state, e.thaw
	b.mu.Unlock()
	switch state {
	case Dead:
		// Reset the connection: the prober sees its request fail.
		if hj, ok := w.(http.Hijacker); ok {
			if c, _, err := hj.Hijack(); err == nil {
				if tc, ok := c.(*net.TCPConn); ok {
					tc.SetLinger(0)
				}
				c.Close()
				return
			}
		}
		http.Error(w, "dead", http.StatusServiceUnavailable)
		return
	case Frozen:
		select {
		case <-thaw:
		case <-r.Context().Done():
			return
		}
	}
	io.WriteString(w, "ok\n")
}

// set puts element a in state s and returns when it was done.
func (b *backendSrv) set(a netip.Addr, s ElementState) time.Time {
	b.mu.Lock()
	defer b.mu.Unlock()
	e := b.elem(a)
	if e.state == Frozen && s != Frozen {
		close(e.thaw)
	}
	if s == Frozen && e.state != Frozen {
		e.thaw = make(chan struct{})
	}
	e.state = s
	return time.Now()
}

// state returns element a's state.
func (b *backendSrv) state(a netip.Addr) ElementState {
	b.mu.Lock()
	defer b.mu.Unlock()
	if e := b.elems[a]; e != nil {
		return e.state
	}
	return Alive
}

// probes returns the requests element a got at or after since, in order.
func (b *backendSrv) probes(a netip.Addr, since time.Time) []Probe {
	b.mu.Lock()
	defer b.mu.Unlock()
	e := b.elems[a]
	if e == nil {
		return nil
	}
	i := sort.Search(len(e.probes), func(i int) bool { return !e.probes[i].At.Before(since) })
	return append([]Probe(nil), e.probes[i:]...)
}

// lastProber returns who probed element a last before t, and when (the
// zero Probe if nobody did).
func (b *backendSrv) lastProber(a netip.Addr, t time.Time) Probe {
	b.mu.Lock()
	defer b.mu.Unlock()
	e := b.elems[a]
	if e == nil {
		return Probe{}
	}
	i := sort.Search(len(e.probes), func(i int) bool { return !e.probes[i].At.Before(t) })
	if i == 0 {
		return Probe{}
	}
	return e.probes[i-1]
}

// close stops the servers.
func (b *backendSrv) close() error {
	b.mu.Lock()
	srvs := b.srvs
	b.srvs = nil
	for _, e := range b.elems {
		if e.state == Frozen {
			close(e.thaw)
			e.state = Alive
		}
	}
	b.mu.Unlock()
	var errs []error
	for _, s := range srvs {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		if err := s.Shutdown(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
			errs = append(errs, err)
		}
		s.Close()
		cancel()
	}
	return errors.Join(errs...)
}

// probedBy returns the elements that from probed in [since, until).
func (b *backendSrv) probedBy(from netip.Addr, since, until time.Time) []netip.Addr {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []netip.Addr
	for a, e := range b.elems {
		for _, p := range e.probes {
			if p.From == from && !p.At.Before(since) && p.At.Before(until) {
				out = append(out, a)
				break
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Less(out[j]) })
	return out
}

// takeover returns, for each of elems, how long after at someone other
// than from first probed it (in the order of elems), -1 if nobody did.
func (b *backendSrv) takeover(elems []netip.Addr, from netip.Addr, at time.Time) []time.Duration {
	took := make([]time.Duration, len(elems))
	for i, a := range elems {
		took[i] = -1
		for _, p := range b.probes(a, at) {
			if p.From != from {
				took[i] = p.At.Sub(at)
				break
			}
		}
	}
	return took
}

// maxProbeGap returns the longest time element a went without a probe (by
// anyone) within [from, to]: between two probes, or from the last probe
// before from, or to to after the last one.
func (b *backendSrv) maxProbeGap(a netip.Addr, from, to time.Time) time.Duration {
	last := b.lastProber(a, from).At
	if last.IsZero() {
		last = from
	}
	var longest time.Duration
	for _, p := range b.probes(a, from) {
		if p.At.After(to) {
			break
		}
		longest = max(longest, p.At.Sub(last))
		last = p.At
	}
	return max(longest, to.Sub(last))
}

// Backends are the pool elements' servers: one small HTTP server per
// backend node, listening on 0.0.0.0 in the node's namespace, so that it
// answers on every address of the node's block; each address is one
// element. Every request (a probe) is recorded with its time and the
// prober's address, and each element can be killed (its connections are
// reset: a probe fails at once), frozen (requests hang: a probe times
// out) and revived. The servers run in the lab process, at its priority
// (see helper.go); Backends is the test's handle on them.
type Backends struct {
	h *labProc
}

// NewBackends returns the backends of net n, with no server yet.
func NewBackends(n *Net) *Backends { return &Backends{h: n.helper} }

// Serve starts a server on port of every address of nd (its own and its
// block). It stops with the Net.
func (b *Backends) Serve(nd *Node, port int) error {
	_, err := b.h.do("serve %s %d", nd.ns.name, port)
	return err
}

// Set puts element a in state s and returns when it was done (the test
// fails later, on a missing state, if the lab process is gone).
func (b *Backends) Set(a netip.Addr, s ElementState) time.Time {
	line, err := b.h.do("set %s %s", a, s)
	if err != nil {
		return time.Now()
	}
	ns, _ := strconv.ParseInt(line, 10, 64)
	return time.Unix(0, ns)
}

// State returns element a's state (Alive if it cannot be had).
func (b *Backends) State(a netip.Addr) ElementState {
	line, _ := b.h.do("state %s", a)
	switch line {
	case "dead":
		return Dead
	case "frozen":
		return Frozen
	}
	return Alive
}

// wireProbe is a Probe on the lab process's pipe.
type wireProbe struct {
	T int64      `json:"t"` // Unix ns
	F netip.Addr `json:"f"`
}

// Probes returns the requests element a got at or after since, in order.
func (b *Backends) Probes(a netip.Addr, since time.Time) ([]Probe, error) {
	var raw []wireProbe
	if err := b.h.doJSON(&raw, "probes %s %d", a, since.UnixNano()); err != nil {
		return nil, err
	}
	out := make([]Probe, 0, len(raw))
	for _, r := range raw {
		out = append(out, Probe{At: time.Unix(0, r.T), From: r.F})
	}
	return out, nil
}

// ProbedBy returns the elements that from probed in [since, until).
func (b *Backends) ProbedBy(from netip.Addr, since, until time.Time) ([]netip.Addr, error) {
	var out []netip.Addr
	err := b.h.doJSON(&out, "probedby %s %d %d", from, since.UnixNano(), until.UnixNano())
	return out, err
}

// joinAddrs is the addresses, comma-separated.
func joinAddrs(as []netip.Addr) string {
	s := make([]string, len(as))
	for i, a := range as {
		s[i] = a.String()
	}
	return strings.Join(s, ",")
}

// Takeover returns, for each of elems, how long after at someone other
// than from first probed it (in the order of elems), and the elements
// that nobody else probed after at.
func (b *Backends) Takeover(elems []netip.Addr, from netip.Addr, at time.Time) ([]time.Duration, []netip.Addr, error) {
	if len(elems) == 0 {
		return nil, nil, nil
	}
	var raw []time.Duration
	if err := b.h.doJSON(&raw, "takeover %s %d %s", from, at.UnixNano(), joinAddrs(elems)); err != nil {
		return nil, nil, err
	}
	var took []time.Duration
	var missing []netip.Addr
	for i, d := range raw {
		if d < 0 {
			missing = append(missing, elems[i])
		} else {
			took = append(took, d)
		}
	}
	return took, missing, nil
}

// MaxProbeGap returns, for each of elems, the longest time it went
// without a probe (by anyone) within [from, to]: between two probes, or
// from the last probe before from, or to to after the last one.
func (b *Backends) MaxProbeGap(elems []netip.Addr, from, to time.Time) ([]time.Duration, error) {
	if len(elems) == 0 {
		return nil, nil
	}
	var out []time.Duration
	err := b.h.doJSON(&out, "maxgap %d %d %s", from.UnixNano(), to.UnixNano(), joinAddrs(elems))
	return out, err
}
