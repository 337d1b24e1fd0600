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
	"sync"
	"time"
)

// Backends are the pool elements' servers: one small HTTP server per
// backend node, listening on 0.0.0.0 in the node's namespace, so that it
// answers on every address of the node's block; each address is one
// element. Every request (a probe) is recorded with its time and the
// prober's address, and each element can be killed (its connections are
// reset), frozen (requests hang) and revived.
type Backends struct {
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

// NewBackends returns backends with no server yet.
func NewBackends() *Backends {
	return &Backends{elems: map[netip.Addr]*backendElem{}}
}

// Serve starts a server on port of every address of nd (its own and its
// block). It stops with Close.
func (b *Backends) Serve(nd *Node, port int) error {
	ln, err := nd.Listen("tcp", net.JoinHostPort("0.0.0.0", strconv.Itoa(port)))
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: http.HandlerFunc(b.serve), IdleTimeout: time.Minute, ReadHeaderTimeout: 10 * time.Second}
	b.mu.Lock()
	b.srvs = append(b.srvs, srv)
	b.mu.Unlock()
	go srv.Serve(ln)
	return nil
}

// elem returns the element of address a, made alive if new; b.mu is held.
func (b *Backends) elem(a netip.Addr) *backendElem {
	e := b.elems[a]
	if e == nil {
		e = &backendElem{}
		b.elems[a] = e
	}
	return e
}

func (b *Backends) serve(w http.ResponseWriter, r *http.Request) {
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

// Set puts element a in state s and returns when it was done.
func (b *Backends) Set(a netip.Addr, s ElementState) time.Time {
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

// State returns element a's state.
func (b *Backends) State(a netip.Addr) ElementState {
	b.mu.Lock()
	defer b.mu.Unlock()
	if e := b.elems[a]; e != nil {
		return e.state
	}
	return Alive
}

// Probes returns the requests element a got at or after since, in order.
func (b *Backends) Probes(a netip.Addr, since time.Time) []Probe {
	b.mu.Lock()
	defer b.mu.Unlock()
	e := b.elems[a]
	if e == nil {
		return nil
	}
	i := sort.Search(len(e.probes), func(i int) bool { return !e.probes[i].At.Before(since) })
	return append([]Probe(nil), e.probes[i:]...)
}

// LastProber returns who probed element a last before t, and when (the
// zero Probe if nobody did).
func (b *Backends) LastProber(a netip.Addr, t time.Time) Probe {
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

// Close stops the servers.
func (b *Backends) Close() error {
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

// ProbedBy returns the elements that from probed in [since, until).
func (b *Backends) ProbedBy(from netip.Addr, since, until time.Time) []netip.Addr {
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

// Takeover returns, for each of elems, how long after at someone other
// than from first probed it (in the order of elems), and the elements
// that nobody else probed after at.
func (b *Backends) Takeover(elems []netip.Addr, from netip.Addr, at time.Time) ([]time.Duration, []netip.Addr) {
	var took []time.Duration
	var missing []netip.Addr
	for _, a := range elems {
		found := false
		for _, p := range b.Probes(a, at) {
			if p.From != from {
				took = append(took, p.At.Sub(at))
				found = true
				break
			}
		}
		if !found {
			missing = append(missing, a)
		}
	}
	return took, missing
}

// MaxProbeGap returns the longest time element a went without a probe (by
// anyone) within [from, to]: between two probes, or from the last probe
// before from, or to to after the last one.
func (b *Backends) MaxProbeGap(a netip.Addr, from, to time.Time) time.Duration {
	last := b.LastProber(a, from).At
	if last.IsZero() {
		last = from
	}
	var longest time.Duration
	for _, p := range b.Probes(a, from) {
		if p.At.After(to) {
			break
		}
		longest = max(longest, p.At.Sub(last))
		last = p.At
	}
	return max(longest, to.Sub(last))
}
