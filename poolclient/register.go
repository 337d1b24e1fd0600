package poolclient

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// TSIGKey is the key that signs registrations.
type TSIGKey struct {
	// Name is the key's name as the registrar knows it ("pe-key.").
	Name string
	// Algorithm is "hmac-sha256" (the default) or "hmac-sha512".
	Algorithm string
	// Secret is the shared secret in base64.
	Secret string
}

// Element is a pool element to register.
type Element struct {
	// Zone is the served zone ("pool.example.") and Pool the pool's handle
	// in it ("web"): the element registers as Label.Pool.Zone.
	Zone, Pool string
	// Label is the element's own label, the first label of its name: a
	// DNS label of letters, digits, '-' and '_'. Eight hex digits make it
	// the element's identifier too.
	Label string
	// Addrs are the element's addresses; Port the port it serves on.
	Addrs []netip.Addr
	Port  uint16
	// Weight and Priority are SRV's (RFC 2782): lower priority is
	// preferred, weight shares the load among equal priorities.
	Weight, Priority uint32
	// Load is the element's load, 0 idle to 1 full (least-used policies);
	// LoadDeg the load degradation per selection (lud, plu), 0 to 1.
	Load, LoadDeg float64
	// Site is the element's site, for the nearest policy.
	Site string
	// Policy is the pool policy the registration asks for ("" any): a pool
	// that does not exist yet is created with it; a pool with another
	// policy refuses the registration.
	Policy string
	// Transport is "tcp" (the default), "udp" or "sctp".
	Transport string
}

// RegisterConfig configures Register. Zero values have defaults.
type RegisterConfig struct {
	// Registrars are the registrars' DNS addresses (host:port), tried in
	// order; the one that accepts stays in use until it fails.
	Registrars []string
	// Key signs the updates.
	Key TSIGKey
	// Lease is the lease asked for (0: the registrar's default). The
	// registrar may grant another; refreshes follow the granted one.
	Lease time.Duration
	// Timeout bounds one attempt at one registrar (default 2 s).
	Timeout time.Duration
	// MinBackoff and MaxBackoff bound the back-off between failed rounds
	// (defaults 250 ms and 30 s); it doubles per round, with jitter.
	MinBackoff, MaxBackoff time.Duration
	// Logger gets a line per failed attempt (warn) and per refresh (debug);
	// default slog.Default().
	Logger *slog.Logger
}

func (c *RegisterConfig) defaults() {
	if c.Timeout <= 0 {
		c.Timeout = 2 * time.Second
	}
	if c.MinBackoff <= 0 {
		c.MinBackoff = 250 * time.Millisecond
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = 30 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Key.Algorithm == "" {
		c.Key.Algorithm = "hmac-sha256"
	}
}

// RcodeError is a registrar's refusal: its rcode, and the TSIG error when
// the rcode is NOTAUTH because of the signature.
type RcodeError struct {
	Registrar string
	Rcode     int
	TSIGError uint16
	// Reason is the registrar's Extended DNS Error text, if it sent one.
	Reason string
}

func (e *RcodeError) Error() string {
	s := fmt.Sprintf("poolclient: registrar %s answered %s", e.Registrar, dns.RcodeToString[e.Rcode])
	if e.TSIGError != 0 {
		s += " (" + dns.RcodeToString[int(e.TSIGError)] + ")"
	}
	if e.Reason != "" {
		s += ": " + e.Reason
	}
	return s
}

// permanent reports whether retrying cannot help: the registrar refused
// the request as such. SERVFAIL, rate limits and network errors are worth
// another try.
func permanent(err error) bool {
	var re *RcodeError
	if !errors.As(err, &re) {
		return false
	}
	switch re.Rcode {
	case dns.RcodeServerFailure:
		return false
	case dns.RcodeRefused:
		return !strings.Contains(re.Reason, "rate limit")
	}
	return true
}

// Registration is a live registration: it refreshes itself until Close.
type Registration struct {
	cfg  RegisterConfig
	name string // the element's FQDN
	zone string

	mu        sync.Mutex
	el        Element
	current   int           // index of the registrar in use
	lease     time.Duration // granted
	lastErr   error
	refreshed time.Time

	kick   chan struct{} // SetLoad asks for an update now
	done   chan struct{}
	closed chan struct{}
	once   sync.Once
	cancel context.CancelFunc
}

// Register registers el with the first registrar of cfg.Registrars that
// accepts it, retrying with back-off until one does, a registrar refuses
// it for good (an *RcodeError), or ctx ends. Then it keeps the registration
// alive until Close.
func Register(ctx context.Context, el Element, cfg RegisterConfig) (*Registration, error) {
	cfg.defaults()
	if len(cfg.Registrars) == 0 {
		return nil, errors.New("poolclient: no registrar")
	}
	if el.Zone == "" || el.Pool == "" || el.Label == "" {
		return nil, errors.New("poolclient: the element needs a zone, a pool and a label")
	}
	if len(el.Addrs) == 0 || el.Port == 0 {
		return nil, errors.New("poolclient: the element needs an address and a port")
	}
	zone := strings.ToLower(dns.Fqdn(el.Zone))
	r := &Registration{
		cfg: cfg, el: el, zone: zone,
		name: strings.ToLower(el.Label + "." + el.Pool + "." + zone),
		kick: make(chan struct{}, 1), done: make(chan struct{}), closed: make(chan struct{}),
	}
	if _, ok := dns.IsDomainName(r.name); !ok {
		return nil, fmt.Errorf("poolclient: %q is not a domain name", r.name)
	}
	if err := r.untilAccepted(ctx); err != nil {
		return nil, err
	}
	bg, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go r.run(bg)
	return r, nil
}

// Name returns the element's DNS name.
func (r *Registration) Name() string { return r.name }

// Lease returns the lease the registrar granted last.
func (r *Registration) Lease() time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lease
}

// Registrar returns the registrar in use.
func (r *Registration) Registrar() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cfg.Registrars[r.current]
}

// Err returns the error of the last failed refresh, nil after a success.
func (r *Registration) Err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lastErr
}

// SetLoad reports the element's load (0 idle … 1 full): the next update,
// which it asks for at once, carries it. It returns without waiting.
func (r *Registration) SetLoad(load float64) {
	r.mu.Lock()
	r.el.Load = min(max(load, 0), 1)
	r.mu.Unlock()
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// Close stops the refreshes and deregisters the element (one attempt per
// registrar, within ctx). It returns the deregistration's error, if no
// registrar took it.
func (r *Registration) Close(ctx context.Context) error {
	var err error
	r.once.Do(func() {
		r.cancel()
		<-r.done
		m := new(dns.Msg)
		m.SetUpdate(r.zone)
		m.RemoveName([]dns.RR{&dns.ANY{Hdr: dns.RR_Header{Name: r.name}}})
		r.mu.Lock()
		start := r.current
		r.mu.Unlock()
		var errs []error
		for i := range r.cfg.Registrars {
			addr := r.cfg.Registrars[(start+i)%len(r.cfg.Registrars)]
			if _, e := r.exchange(ctx, m.Copy(), addr); e == nil {
				errs = nil
				break
			} else {
				errs = append(errs, e)
			}
			if ctx.Err() != nil {
				break
			}
		}
		err = errors.Join(errs...)
		close(r.closed)
	})
	<-r.closed
	return err
}

// run refreshes at half the granted lease; after a failure it tries again
// with back-off, going through the registrars.
func (r *Registration) run(ctx context.Context) {
	defer close(r.done)
	for {
		wait := r.Lease() / 2
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		case <-r.kick:
			t.Stop()
		}
		if err := r.untilAccepted(ctx); err != nil && ctx.Err() == nil {
			// Refused for good (the registrar's policy changed, the key
			// was removed): keep trying at the lease's pace, loudly.
			r.cfg.Logger.Error("poolclient: registration refused", "name", r.name, "err", err.Error())
		}
	}
}

// untilAccepted sends the registration, going round the registrars with
// back-off until one accepts, one refuses it for good, or ctx ends.
func (r *Registration) untilAccepted(ctx context.Context) error {
	backoff := r.cfg.MinBackoff
	for {
		err := r.round(ctx)
		if err == nil || permanent(err) {
			r.mu.Lock()
			r.lastErr = err
			r.mu.Unlock()
			return err
		}
		r.mu.Lock()
		r.lastErr = err
		r.mu.Unlock()
		if ctx.Err() != nil {
			return errors.Join(err, ctx.Err())
		}
		// Half the back-off plus up to as much again at random.
		d := backoff/2 + time.Duration(rand.Int64N(int64(backoff/2)+1))
		r.cfg.Logger.Warn("poolclient: registration failed; retrying", "name", r.name, "err", err.Error(), "in", d.String())
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return errors.Join(err, ctx.Err())
		case <-t.C:
		}
		backoff = min(2*backoff, r.cfg.MaxBackoff)
	}
}

// round tries each registrar once, starting with the current one.
func (r *Registration) round(ctx context.Context) error {
	r.mu.Lock()
	start := r.current
	m := r.message()
	r.mu.Unlock()
	var errs []error
	for i := range r.cfg.Registrars {
		idx := (start + i) % len(r.cfg.Registrars)
		addr := r.cfg.Registrars[idx]
		resp, err := r.exchange(ctx, m.Copy(), addr)
		if err == nil {
			lease := r.cfg.Lease
			if opt := resp.IsEdns0(); opt != nil {
				for _, o := range opt.Option {
					if ul, ok := o.(*dns.EDNS0_UL); ok {
						lease = time.Duration(ul.Lease) * time.Second
					}
				}
			}
			if lease <= 0 {
				lease = 60 * time.Second // the registrar's default, if it says nothing
			}
			r.mu.Lock()
			r.current, r.lease, r.refreshed = idx, lease, time.Now()
			r.mu.Unlock()
			r.cfg.Logger.Debug("poolclient: registered", "name", r.name, "registrar", addr, "lease", lease.String())
			return nil
		}
		if permanent(err) {
			return err
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return errors.Join(errs...)
}

// message builds the registration: delete whatever the name holds, then
// add its SRV, addresses and TXT, in one atomic UPDATE.
func (r *Registration) message() *dns.Msg {
	el := r.el
	ttl := uint32(r.cfg.Lease / time.Second)
	m := new(dns.Msg)
	m.SetUpdate(r.zone)
	m.RemoveName([]dns.RR{&dns.ANY{Hdr: dns.RR_Header{Name: r.name}}})
	hdr := func(t uint16) dns.RR_Header {
		return dns.RR_Header{Name: r.name, Rrtype: t, Class: dns.ClassINET, Ttl: ttl}
	}
	rrs := []dns.RR{&dns.SRV{Hdr: hdr(dns.TypeSRV), Priority: uint16(min(el.Priority, 0xFFFF)),
		Weight: uint16(min(el.Weight, 0xFFFF)), Port: el.Port, Target: r.name}}
	for _, a := range el.Addrs {
		if a.Is4() || a.Is4In6() {
			rrs = append(rrs, &dns.A{Hdr: hdr(dns.TypeA), A: a.Unmap().AsSlice()})
		} else {
			rrs = append(rrs, &dns.AAAA{Hdr: hdr(dns.TypeAAAA), AAAA: a.AsSlice()})
		}
	}
	var txt []string
	if el.Weight > 0xFFFF {
		txt = append(txt, "weight="+strconv.FormatUint(uint64(el.Weight), 10))
	}
	if el.Priority > 0xFFFF {
		txt = append(txt, "prio="+strconv.FormatUint(uint64(el.Priority), 10))
	}
	if el.Load > 0 {
		txt = append(txt, "load="+strconv.FormatFloat(min(el.Load, 1), 'g', 6, 64))
	}
	if el.LoadDeg > 0 {
		txt = append(txt, "loaddeg="+strconv.FormatFloat(min(el.LoadDeg, 1), 'g', 6, 64))
	}
	if el.Site != "" {
		txt = append(txt, "site="+el.Site)
	}
	if el.Policy != "" {
		txt = append(txt, "policy="+el.Policy)
	}
	if el.Transport != "" && el.Transport != "tcp" {
		txt = append(txt, "transport="+el.Transport)
	}
	if len(txt) > 0 {
		rrs = append(rrs, &dns.TXT{Hdr: hdr(dns.TypeTXT), Txt: txt})
	}
	m.Insert(rrs)
	m.SetEdns0(1232, false)
	if r.cfg.Lease > 0 {
		opt := m.IsEdns0()
		opt.Option = append(opt.Option, &dns.EDNS0_UL{Code: dns.EDNS0UL, Lease: uint32(r.cfg.Lease / time.Second)})
	}
	return m
}

// exchange signs m and sends it to addr, over UDP and, if the reply is
// truncated, again over TCP. A reply other than NOERROR is an
// *RcodeError.
func (r *Registration) exchange(ctx context.Context, m *dns.Msg, addr string) (*dns.Msg, error) {
	key := r.cfg.Key
	name := strings.ToLower(dns.Fqdn(key.Name))
	m.SetTsig(name, strings.ToLower(dns.Fqdn(key.Algorithm)), 300, time.Now().Unix())
	ctx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
	defer cancel()
	c := &dns.Client{Net: "udp", Timeout: r.cfg.Timeout, TsigSecret: map[string]string{name: key.Secret}}
	resp, _, err := c.ExchangeContext(ctx, m, addr)
	if err == nil && resp.Truncated {
		c.Net = "tcp"
		resp, _, err = c.ExchangeContext(ctx, m, addr)
	}
	if resp != nil && resp.Rcode != dns.RcodeSuccess {
		re := &RcodeError{Registrar: addr, Rcode: resp.Rcode}
		if t := resp.IsTsig(); t != nil {
			re.TSIGError = t.Error
		}
		if opt := resp.IsEdns0(); opt != nil {
			for _, o := range opt.Option {
				if ede, ok := o.(*dns.EDNS0_EDE); ok {
					re.Reason = ede.ExtraText
				}
			}
		}
		return resp, re
	}
	if err != nil {
		return nil, fmt.Errorf("poolclient: registrar %s: %w", addr, err)
	}
	return resp, nil
}
