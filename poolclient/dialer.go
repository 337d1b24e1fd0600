package poolclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Reporter sends failure reports (RFC 5352 ENDPOINT_UNREACHABLE) to
// poolnsd's HTTP API: POST /v1/pools/{pool}/reports with the bearer token.
type Reporter struct {
	// URL is the API's base URL ("http://127.0.0.1:8053").
	URL string
	// Token is the bearer token of the reports: the server's
	// http.report_token, the pool users' credential (http.token, the
	// operator's, works too but can also drain). Empty: no token, for a
	// pool user whose address is in the server's reports.allow.
	Token string
	// Client sends the reports (default a client with a 5 s timeout).
	Client *http.Client
}

// Report says that the element of pool at addr did not answer.
func (r *Reporter) Report(ctx context.Context, pool string, addr netip.AddrPort) error {
	body, _ := json.Marshal(map[string]string{"address": addr.String()})
	u := strings.TrimSuffix(r.URL, "/") + "/v1/pools/" + url.PathEscape(strings.TrimSuffix(pool, ".")) + "/reports"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("poolclient: report: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	if r.Token != "" {
		req.Header.Set("Authorization", "Bearer "+r.Token)
	}
	c := r.Client
	if c == nil {
		c = &http.Client{Timeout: 5 * time.Second}
	}
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("poolclient: report: %w", err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusAccepted {
		return fmt.Errorf("poolclient: report for %s of %s: %s: %s", addr, pool, resp.Status, strings.TrimSpace(string(msg)))
	}
	return nil
}

// Dialer dials a pool's elements in RFC 2782 order with failover. It is
// safe for concurrent use; its zero value (with a Resolver) works.
type Dialer struct {
	// Resolver looks the pools up (required).
	Resolver *Resolver
	// Service, when set ("_http._tcp"), makes the SRV lookup ask
	// Service.host first, then host.
	Service string
	// Dialer makes each connection (default: a net.Dialer with a 2 s
	// timeout per address).
	Dialer *net.Dialer
	// Reporter, when set, gets a failure report for each element that did
	// not accept a connection.
	Reporter *Reporter
	// ReportHold is how long an address that failed is tried last (and
	// not reported again); default DefaultReportHold. A pool user alone
	// reports a dead element at most once per ReportHold: for its reports
	// alone to take the element out, the server's reports.window must be
	// longer than (reports.max_bad - 1) × ReportHold (the defaults: 30 s
	// and 2 × 10 s).
	ReportHold time.Duration
	// Rand returns uniform numbers in [0, n) for Order (default
	// math/rand/v2's). Testing.
	Rand func(n uint64) uint64
	// Logger gets a line per failed connect (debug) and failed report
	// (warn); default slog.Default().
	Logger *slog.Logger

	mu     sync.Mutex
	failed map[netip.AddrPort]time.Time // until when an address is tried last
	wg     sync.WaitGroup               // reports in flight
}

func (d *Dialer) logger() *slog.Logger {
	if d.Logger != nil {
		return d.Logger
	}
	return slog.Default()
}

// DefaultReportHold is Dialer.ReportHold's default.
const DefaultReportHold = 10 * time.Second

func (d *Dialer) hold() time.Duration {
	if d.ReportHold > 0 {
		return d.ReportHold
	}
	return DefaultReportHold
}

// DialContext connects to the pool named by address's host (host:port),
// trying its elements in RFC 2782 order; an element that refuses or times
// out is reported and the next one tried. An IP address as host is dialled
// as it is. It has the signature of http.Transport.DialContext.
func (d *Dialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	host, portStr, err := net.SplitHostPort(address)
	if err != nil {
		return nil, fmt.Errorf("poolclient: dial %s: %w", address, err)
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil {
		return nil, fmt.Errorf("poolclient: dial %s: bad port %q", address, portStr)
	}
	nd := d.Dialer
	if nd == nil {
		nd = &net.Dialer{Timeout: 2 * time.Second}
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return nd.DialContext(ctx, network, address)
	}
	if d.Resolver == nil {
		return nil, errors.New("poolclient: Dialer without a Resolver")
	}
	targets, pool, err := d.lookup(ctx, host, uint16(port))
	if err != nil {
		return nil, err
	}
	addrs := d.order(Order(targets, d.Rand), network)
	if len(addrs) == 0 {
		return nil, fmt.Errorf("poolclient: dial %s: no %s address among the targets", address, network)
	}
	var errs []error
	for _, ap := range addrs {
		c, err := nd.DialContext(ctx, network, ap.String())
		if err == nil {
			d.mu.Lock()
			delete(d.failed, ap)
			d.mu.Unlock()
			return c, nil
		}
		if ctx.Err() != nil {
			return nil, errors.Join(append(errs, err)...)
		}
		errs = append(errs, err)
		d.logger().Debug("poolclient: connect failed; trying the next element", "pool", pool, "addr", ap.String(), "err", err.Error())
		d.fail(pool, ap)
	}
	return nil, fmt.Errorf("poolclient: dial %s: every element failed: %w", address, errors.Join(errs...))
}

// lookup finds the targets of host: SRV at Service.host, then at host,
// then host's addresses.
func (d *Dialer) lookup(ctx context.Context, host string, port uint16) ([]Target, string, error) {
	pool := strings.ToLower(strings.TrimSuffix(host, "."))
	if d.Service != "" {
		if ts, err := d.Resolver.Lookup(ctx, d.Service+"."+pool, 0); err == nil && ts[0].Port != 0 {
			return ts, pool, nil
		} else if err != nil && !errors.Is(err, ErrNoTargets) {
			return nil, pool, err
		}
	}
	ts, err := d.Resolver.Lookup(ctx, pool, port)
	return ts, pool, err
}

// order lists the addresses to try: the targets' in order (IPv4 first
// within a target, as Lookup gives them; only those that network allows),
// with the ones that failed lately moved to the end.
func (d *Dialer) order(ts []Target, network string) []netip.AddrPort {
	var good, held []netip.AddrPort
	now := time.Now()
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, t := range ts {
		for _, a := range t.Addrs {
			switch {
			case strings.HasSuffix(network, "4") && !a.Is4(),
				strings.HasSuffix(network, "6") && a.Is4():
				continue
			}
			ap := netip.AddrPortFrom(a, t.Port)
			if until, ok := d.failed[ap]; ok && now.Before(until) {
				held = append(held, ap)
			} else {
				good = append(good, ap)
			}
		}
	}
	return append(good, held...)
}

// fail notes an address that did not connect and reports it, unless it was
// reported within ReportHold.
func (d *Dialer) fail(pool string, ap netip.AddrPort) {
	now := time.Now()
	d.mu.Lock()
	if d.failed == nil {
		d.failed = map[netip.AddrPort]time.Time{}
	}
	if until, ok := d.failed[ap]; ok && now.Before(until) {
		d.mu.Unlock()
		return
	}
	if len(d.failed) > 4096 {
		for k, until := range d.failed {
			if !now.Before(until) {
				delete(d.failed, k)
			}
		}
	}
	d.failed[ap] = now.Add(d.hold())
	d.mu.Unlock()
	if d.Reporter == nil {
		return
	}
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := d.Reporter.Report(ctx, pool, ap); err != nil {
			d.logger().Warn("poolclient: failure report not sent", "pool", pool, "addr", ap.String(), "err", err.Error())
		}
	}()
}

// Wait waits for the failure reports in flight.
func (d *Dialer) Wait() { d.wg.Wait() }
