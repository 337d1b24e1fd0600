package netlab

import (
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/poolnsd/poolnsd/internal/netlab/backend"
)

// ElementState is what a backend element does with requests
// (backend.State).
type ElementState = backend.State

// The states of an element.
const (
	Alive  = backend.Alive  // answers 200 "ok"
	Dead   = backend.Dead   // resets the connection (kill)
	Frozen = backend.Frozen // never answers (freeze)
)

// Probe is one request an element got (backend.Probe).
type Probe = backend.Probe

// serveBackend starts srv's server on port of every address of namespace
// netns.
func serveBackend(srv *backend.Server, netns string, port int) error {
	var ln net.Listener
	err := (&ns{name: netns}).Do(func() (err error) {
		ln, err = net.Listen("tcp", net.JoinHostPort("0.0.0.0", strconv.Itoa(port)))
		return err
	})
	if err != nil {
		return err
	}
	srv.Serve(ln)
	return nil
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
