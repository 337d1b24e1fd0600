package backend

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"sort"
	"sync"
	"time"
)

// Server is the backends' servers, in the lab process.
type Server struct {
	mu    sync.Mutex
	elems map[netip.Addr]*elem
	srvs  []*http.Server
}

// State is what a backend element does with requests.
type State int

// The states of an element.
const (
	Alive  State = iota // answers 200 "ok"
	Dead                // resets the connection (kill)
	Frozen              // never answers (freeze)
)

func (s State) String() string {
	return [...]string{"alive", "dead", "frozen"}[s]
}

type elem struct {
	state  State
	thaw   chan struct{} // closed when a frozen element is revived
	probes []Probe
}

// Probe is one request an element got.
type Probe struct {
	At   time.Time
	From netip.Addr // the prober's address
}

// New returns a Server with no listener yet.
func New() *Server {
	return &Server{elems: map[netip.Addr]*elem{}}
}

// Serve serves ln (a listener on port P of 0.0.0.0 in a backend node's
// namespace: every address of the node is one element) until Close.
func (b *Server) Serve(ln net.Listener) {
	srv := &http.Server{Handler: http.HandlerFunc(b.handle), IdleTimeout: time.Minute, ReadHeaderTimeout: 10 * time.Second}
	b.mu.Lock()
	b.srvs = append(b.srvs, srv)
	b.mu.Unlock()
	go srv.Serve(ln)
}

// elem returns the element of address a, made alive if new; b.mu is held.
func (b *Server) elem(a netip.Addr) *elem {
	e := b.elems[a]
	if e == nil {
		e = &elem{}
		b.elems[a] = e
	}
	return e
}

func (b *Server) handle(w http.ResponseWriter, r *http.Request) {
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
func (b *Server) Set(a netip.Addr, s State) time.Time {
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
func (b *Server) State(a netip.Addr) State {
	b.mu.Lock()
	defer b.mu.Unlock()
	if e := b.elems[a]; e != nil {
		return e.state
	}
	return Alive
}

// Probes returns the requests element a got at or after since, in order.
func (b *Server) Probes(a netip.Addr, since time.Time) []Probe {
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
func (b *Server) lastProber(a netip.Addr, t time.Time) Probe {
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
func (b *Server) Close() error {
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
func (b *Server) ProbedBy(from netip.Addr, since, until time.Time) []netip.Addr {
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
// than from first probed it (in the order of elems), -1 if nobody did.
func (b *Server) Takeover(elems []netip.Addr, from netip.Addr, at time.Time) []time.Duration {
	took := make([]time.Duration, len(elems))
	for i, a := range elems {
		took[i] = -1
		for _, p := range b.Probes(a, at) {
			if p.From != from {
				took[i] = p.At.Sub(at)
				break
			}
		}
	}
	return took
}

// MaxProbeGap returns the longest time element a went without a probe (by
// anyone) within [from, to]: between two probes, or from the last probe
// before from, or to to after the last one.
func (b *Server) MaxProbeGap(a netip.Addr, from, to time.Time) time.Duration {
	last := b.lastProber(a, from).At
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
