package poolclient

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// Target is one place to connect to: an SRV target (or, without SRV, the
// name itself) with its port and addresses.
type Target struct {
	// Name is the SRV target, or the looked-up name for an A/AAAA answer.
	Name string
	// Port is the SRV port, or the default port for an A/AAAA answer.
	Port uint16
	// Priority and Weight are the SRV fields (0 for A/AAAA answers).
	Priority, Weight uint16
	// Addrs are the target's addresses, IPv4 first.
	Addrs []netip.Addr
}

// Resolver looks up pools in DNS and caches the answers for their TTL. It
// is safe for concurrent use.
type Resolver struct {
	// Servers are the DNS servers to ask (host:port), in order; empty:
	// those of /etc/resolv.conf.
	Servers []string
	// Timeout bounds one query to one server (default 2 s).
	Timeout time.Duration
	// NegativeTTL is how long "no such name" and "no records" are cached
	// when the answer carries no SOA (default 5 s); with an SOA its
	// negative TTL counts (RFC 2308), at most this times 12.
	NegativeTTL time.Duration
	// Now is the clock of the cache (default time.Now). Testing.
	Now func() time.Time

	mu      sync.Mutex
	cache   map[cacheKey]cacheEntry
	servers []string
}

type cacheKey struct {
	name  string
	qtype uint16
}

type cacheEntry struct {
	rrs     []dns.RR // answer records of the type
	extra   []dns.RR // additional section (SRV glue)
	rcode   int
	expires time.Time
}

// maxCache bounds the cache's entries; past it, expired entries go first,
// then all.
const maxCache = 4096

// ErrNoTargets: the name has no SRV, A or AAAA records.
var ErrNoTargets = errors.New("poolclient: no targets")

func (r *Resolver) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

func (r *Resolver) timeout() time.Duration {
	if r.Timeout > 0 {
		return r.Timeout
	}
	return 2 * time.Second
}

func (r *Resolver) negTTL() time.Duration {
	if r.NegativeTTL > 0 {
		return r.NegativeTTL
	}
	return 5 * time.Second
}

func (r *Resolver) serverList() ([]string, error) {
	if len(r.Servers) > 0 {
		return r.Servers, nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.servers == nil {
		cc, err := dns.ClientConfigFromFile("/etc/resolv.conf")
		if err != nil {
			return nil, fmt.Errorf("poolclient: no DNS servers given and %v", err)
		}
		for _, s := range cc.Servers {
			r.servers = append(r.servers, net.JoinHostPort(s, cc.Port))
		}
	}
	return r.servers, nil
}

// Lookup returns the targets of name: its SRV records with their
// addresses (from the additional section, else asked for), or, if it has
// none, the name itself at defaultPort with its A and AAAA records. The
// targets come in the answer's order; see Order.
func (r *Resolver) Lookup(ctx context.Context, name string, defaultPort uint16) ([]Target, error) {
	name = strings.ToLower(dns.Fqdn(name))
	srv, extra, err := r.query(ctx, name, dns.TypeSRV)
	if err != nil && !errors.Is(err, ErrNoTargets) {
		return nil, err
	}
	if len(srv) > 0 {
		var out []Target
		for _, rr := range srv {
			s, ok := rr.(*dns.SRV)
			if !ok || s.Target == "." {
				continue // "." : no service at this name (RFC 2782)
			}
			t := Target{Name: strings.ToLower(s.Target), Port: s.Port, Priority: s.Priority, Weight: s.Weight}
			t.Addrs = glue(extra, t.Name)
			if len(t.Addrs) == 0 {
				if t.Addrs, err = r.addrs(ctx, t.Name); err != nil && !errors.Is(err, ErrNoTargets) {
					return nil, err
				}
			}
			if len(t.Addrs) > 0 {
				out = append(out, t)
			}
		}
		if len(out) == 0 {
			return nil, fmt.Errorf("%w: the SRV targets of %s have no addresses", ErrNoTargets, name)
		}
		return out, nil
	}
	addrs, err := r.addrs(ctx, name)
	if err != nil {
		return nil, err
	}
	return []Target{{Name: name, Port: defaultPort, Addrs: addrs}}, nil
}

// glue returns the addresses of name in an additional section.
func glue(extra []dns.RR, name string) []netip.Addr {
	var v4, v6 []netip.Addr
	for _, rr := range extra {
		if !strings.EqualFold(rr.Header().Name, name) {
			continue
		}
		switch x := rr.(type) {
		case *dns.A:
			if a, ok := netip.AddrFromSlice(x.A.To4()); ok {
				v4 = append(v4, a)
			}
		case *dns.AAAA:
			if a, ok := netip.AddrFromSlice(x.AAAA.To16()); ok {
				v6 = append(v6, a)
			}
		}
	}
	return append(v4, v6...)
}

// addrs returns the A and AAAA addresses of name, IPv4 first.
func (r *Resolver) addrs(ctx context.Context, name string) ([]netip.Addr, error) {
	var out []netip.Addr
	var errs []error
	for _, qt := range []uint16{dns.TypeA, dns.TypeAAAA} {
		rrs, _, err := r.query(ctx, name, qt)
		if err != nil && !errors.Is(err, ErrNoTargets) {
			errs = append(errs, err)
		}
		out = append(out, glue(rrs, name)...)
	}
	if len(out) > 0 {
		return out, nil
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return nil, fmt.Errorf("%w: %s has no A or AAAA records", ErrNoTargets, name)
}

// query returns the records of name and type (following the answer's
// CNAMEs: the records of the type, whatever their owner), from the cache
// when fresh. No records is ErrNoTargets.
func (r *Resolver) query(ctx context.Context, name string, qtype uint16) ([]dns.RR, []dns.RR, error) {
	k := cacheKey{name, qtype}
	now := r.now()
	r.mu.Lock()
	if e, ok := r.cache[k]; ok && now.Before(e.expires) {
		r.mu.Unlock()
		return entryResult(e, name, qtype)
	}
	r.mu.Unlock()

	servers, err := r.serverList()
	if err != nil {
		return nil, nil, err
	}
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	m.SetEdns0(4096, false)
	var resp *dns.Msg
	var errs []error
	for _, s := range servers {
		resp, err = r.exchange(ctx, m, s)
		if err == nil && resp.Rcode != dns.RcodeSuccess && resp.Rcode != dns.RcodeNameError {
			err = fmt.Errorf("poolclient: %s %s from %s: %s", name, dns.TypeToString[qtype], s, dns.RcodeToString[resp.Rcode])
		}
		if err == nil {
			break
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	if resp == nil || len(errs) == len(servers) {
		return nil, nil, errors.Join(errs...)
	}
	e := cacheEntry{rcode: resp.Rcode, extra: resp.Extra}
	ttl := time.Duration(-1)
	for _, rr := range resp.Answer {
		if rr.Header().Rrtype == qtype {
			e.rrs = append(e.rrs, rr)
		}
		if t := time.Duration(rr.Header().Ttl) * time.Second; ttl < 0 || t < ttl {
			ttl = t
		}
	}
	if len(e.rrs) == 0 {
		ttl = r.negTTL()
		for _, rr := range resp.Ns {
			if soa, ok := rr.(*dns.SOA); ok {
				ttl = min(time.Duration(min(soa.Hdr.Ttl, soa.Minttl))*time.Second, 12*r.negTTL())
			}
		}
	}
	e.expires = now.Add(ttl)
	if ttl > 0 {
		r.mu.Lock()
		if r.cache == nil {
			r.cache = map[cacheKey]cacheEntry{}
		}
		if len(r.cache) >= maxCache {
			for ck, ce := range r.cache {
				if !now.Before(ce.expires) {
					delete(r.cache, ck)
				}
			}
			if len(r.cache) >= maxCache {
				clear(r.cache)
			}
		}
		r.cache[k] = e
		r.mu.Unlock()
	}
	return entryResult(e, name, qtype)
}

func entryResult(e cacheEntry, name string, qtype uint16) ([]dns.RR, []dns.RR, error) {
	if len(e.rrs) == 0 {
		what := "no such name"
		if e.rcode == dns.RcodeSuccess {
			what = "no " + dns.TypeToString[qtype] + " records"
		}
		return nil, nil, fmt.Errorf("%w: %s: %s", ErrNoTargets, name, what)
	}
	// Addresses reached through a CNAME carry the CNAME target's owner:
	// give them the asked name for glue().
	rrs := e.rrs
	if qtype == dns.TypeA || qtype == dns.TypeAAAA {
		rrs = make([]dns.RR, len(e.rrs))
		for i, rr := range e.rrs {
			c := dns.Copy(rr)
			c.Header().Name = name
			rrs[i] = c
		}
	}
	return rrs, e.extra, nil
}

// exchange asks one server over UDP, and again over TCP when the answer is
// truncated.
func (r *Resolver) exchange(ctx context.Context, m *dns.Msg, server string) (*dns.Msg, error) {
	ctx, cancel := context.WithTimeout(ctx, r.timeout())
	defer cancel()
	c := &dns.Client{Net: "udp", Timeout: r.timeout(), UDPSize: 4096}
	resp, _, err := c.ExchangeContext(ctx, m, server)
	if err == nil && resp.Truncated {
		c.Net = "tcp"
		resp, _, err = c.ExchangeContext(ctx, m, server)
	}
	if err != nil {
		return nil, fmt.Errorf("poolclient: query %s: %w", server, err)
	}
	return resp, nil
}

// Order returns the targets in the order RFC 2782 gives: by priority,
// lowest first, and within one priority a weighted random order (each pick
// with probability weight/sum of the weights left; weight-0 targets have a
// small chance, as the RFC's algorithm gives them). rnd returns uniform
// numbers in [0, n); nil is math/rand/v2's.
func Order(targets []Target, rnd func(n uint64) uint64) []Target {
	if rnd == nil {
		rnd = rand.Uint64N
	}
	ts := slices.Clone(targets)
	slices.SortStableFunc(ts, func(a, b Target) int { return int(a.Priority) - int(b.Priority) })
	out := make([]Target, 0, len(ts))
	for i := 0; i < len(ts); {
		j := i
		for j < len(ts) && ts[j].Priority == ts[i].Priority {
			j++
		}
		group := ts[i:j]
		// RFC 2782: weight-0 targets first in the list, then the running
		// sum picks.
		slices.SortStableFunc(group, func(a, b Target) int {
			switch {
			case a.Weight == 0 && b.Weight != 0:
				return -1
			case a.Weight != 0 && b.Weight == 0:
				return 1
			}
			return 0
		})
		for len(group) > 0 {
			var sum uint64
			for _, t := range group {
				sum += uint64(t.Weight)
			}
			pick := 0
			x := rnd(sum + 1) // 0..sum
			var run uint64
			for k, t := range group {
				run += uint64(t.Weight)
				if run >= x {
					pick = k
					break
				}
			}
			out = append(out, group[pick])
			group = slices.Delete(group, pick, pick+1)
		}
		i = j
	}
	return out
}
