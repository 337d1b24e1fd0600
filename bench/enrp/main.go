// Command enrp measures registrar peering on loopback (make bench-enrp):
//
//   - propagation: the time from a registration at registrar A to its
//     first appearance in registrar C's DNS answers, with 3 and with 8
//     registrars (127.0.0.1–.8, DNS on port 5420, ENRP on 9901, TLS 1.3 with
//     mutual authentication), median and p99 over many registrations;
//   - sync: the time for a new registrar to get 100 000 elements from a
//     running one (handle table transfer, 128 elements a page), in 1 000
//     pools of 100 and in one pool of 100 000;
//   - bytes on the wire per update: the HANDLE_UPDATE messages (and TLS
//     records) that one registration costs, per peer.
//
// The propagation figure is measured twice. With -poolnsd BIN, each
// registrar is a poolnsd process on its own loopback address, and a
// registration is a TSIG-signed DNS UPDATE to A, timed from its sending
// and from A's acknowledgement (which comes after A's store write). And
// in this one process: each registrar a handlespace, a DNS front and a
// peering driver, talking over real TCP with TLS, a registration the
// handlespace call that the registration paths make once they have
// accepted one (no store write). The sync benchmark runs in process.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/miekg/dns"
	"github.com/poolnsd/poolnsd/dnsfront"
	"github.com/poolnsd/poolnsd/enrp"
	"github.com/poolnsd/poolnsd/enrp/enrpnet"
	"github.com/poolnsd/poolnsd/enrp/enrptest"
	"github.com/poolnsd/poolnsd/enrp/wire"
	"github.com/poolnsd/poolnsd/handlespace"
)

var (
	samples  = flag.Int("samples", 300, "registrations measured per cluster size")
	syncN    = flag.Int("sync", 100000, "elements of the sync benchmark")
	dnsPort  = flag.Int("dns-port", 5420, "DNS port on each 127.0.0.x")
	enrpPort = flag.Int("enrp-port", 9901, "ENRP port on each 127.0.0.x")
	sizes    = flag.String("sizes", "3,8", "cluster sizes of the propagation benchmark")
	poolnsd  = flag.String("poolnsd", "", "the poolnsd binary, for the propagation benchmark over processes (\"\": skip it)")
)

const zoneText = `pool.bench. 60 IN SOA ns.pool.bench. h.pool.bench. 1 60 60 60 5
pool.bench. 60 IN NS ns.pool.bench.
ns.pool.bench. 60 IN A 192.0.2.53
`

func zones() []handlespace.ZoneDef {
	var rrs []dns.RR
	zp := dns.NewZoneParser(strings.NewReader(zoneText), "", "bench")
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		rrs = append(rrs, rr)
	}
	return []handlespace.ZoneDef{{Origin: "pool.bench.", File: "bench", Records: rrs}}
}

// registrar is one registrar of the benchmark.
type registrar struct {
	ip  string
	hs  *handlespace.Handlespace
	dns *dnsfront.Server
	drv *enrpnet.Driver
}

func (r *registrar) close() {
	r.drv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r.dns.Shutdown(ctx)
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func start(ca *enrptest.CA, dir string, i int, peers []string) (*registrar, error) {
	ip := fmt.Sprintf("127.0.0.%d", i+1)
	id := uint32(0x1000 + i)
	hs := handlespace.New(handlespace.Options{RegistrarID: id})
	if err := hs.ApplyZones(zones()); err != nil {
		return nil, err
	}
	f, err := ca.WriteFiles(dir, fmt.Sprintf("r%d", i), ip)
	if err != nil {
		return nil, err
	}
	tlsc, err := enrpnet.LoadTLS(enrpnet.TLSFiles{Cert: f.Cert, Key: f.Key, CA: f.CA})
	if err != nil {
		return nil, err
	}
	srv, err := dnsfront.Start(dnsfront.Config{Listen: []string{fmt.Sprintf("%s:%d", ip, *dnsPort)}, UDPSockets: 1, Logger: quiet}, hs)
	if err != nil {
		return nil, err
	}
	drv, err := enrpnet.StartDriver(enrpnet.DriverConfig{
		Node:        enrp.Config{ID: id},
		Listen:      fmt.Sprintf("%s:%d", ip, *enrpPort),
		Peers:       peers,
		TLS:         tlsc,
		Handlespace: hs,
		Logger:      quiet,
	})
	if err != nil {
		srv.Shutdown(context.Background())
		return nil, err
	}
	return &registrar{ip: ip, hs: hs, dns: srv, drv: drv}, nil
}

// cluster starts n registrars, each with every other as a static peer,
// and waits until each knows all the others.
func cluster(ca *enrptest.CA, dir string, n int) ([]*registrar, error) {
	var rs []*registrar
	for i := 0; i < n; i++ {
		var peers []string
		for j := 0; j < n; j++ {
			if j != i {
				peers = append(peers, fmt.Sprintf("127.0.0.%d:%d", j+1, *enrpPort))
			}
		}
		r, err := start(ca, dir, i, peers)
		if err != nil {
			for _, r := range rs {
				r.close()
			}
			return nil, err
		}
		rs = append(rs, r)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		all := true
		for _, r := range rs {
			live := 0
			for _, p := range r.drv.Peers() {
				if !p.Dead {
					live++
				}
			}
			all = all && live == n-1
		}
		if all {
			return rs, nil
		}
		if time.Now().After(deadline) {
			return nil, errors.New("the registrars did not all find each other within 20 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func element(i int, now time.Time) *handlespace.Element {
	a := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
	return &handlespace.Element{ID: uint32(i + 1), Label: handlespace.LabelOf(fmt.Sprintf("pe%d", i)), Addrs: handlespace.AddrsOf(a), Port: 8080,
		Weight: 1, Expires: handlespace.ExpiryOf(now.Add(time.Hour))}
}

// answers reports whether the DNS server at addr lists want among the A
// records of name.
func answers(c *dns.Client, addr, name string, want netip.Addr) (bool, error) {
	m := new(dns.Msg)
	m.SetQuestion(name, dns.TypeA)
	r, _, err := c.Exchange(m, addr)
	if err != nil {
		return false, err
	}
	for _, rr := range r.Answer {
		if a, ok := rr.(*dns.A); ok {
			if ip, _ := netip.AddrFromSlice(a.A); ip.Unmap() == want {
				return true, nil
			}
		}
	}
	return false, nil
}

// untilAnswered asks C (at caddr) for name until it answers with ip, for
// up to 10 s after t0, when registration i was made.
func untilAnswered(c *dns.Client, caddr, name string, ip netip.Addr, t0 time.Time, i int) error {
	for {
		ok, err := answers(c, caddr, name, ip)
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		if time.Since(t0) > 10*time.Second {
			return fmt.Errorf("registration %d not in C's answers after 10 s", i)
		}
	}
}

func percentile(ds []time.Duration, p float64) time.Duration {
	s := slices.Clone(ds)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	k := int(float64(len(s)-1) * p)
	return s[k]
}

// propagation registers elements one at a time at registrar 0 and asks
// registrar 2's DNS until each is in its answers.
func propagation(ca *enrptest.CA, dir string, n int) error {
	rs, err := cluster(ca, dir, n)
	if err != nil {
		return err
	}
	defer func() {
		for _, r := range rs {
			r.close()
		}
	}()
	a, c := rs[0], rs[2]
	caddr := fmt.Sprintf("%s:%d", c.ip, *dnsPort)
	client := &dns.Client{Net: "udp", Timeout: time.Second}
	before := a.drv.Stats()
	var lat []time.Duration
	for i := 0; i < *samples; i++ {
		e := element(i, time.Now())
		// One pool per registration: an answer of up to 3 elements must
		// show the new one.
		name := fmt.Sprintf("p%d.pool.bench.", i)
		t0 := time.Now()
		if err := a.hs.Do(handlespace.Op{Pool: name, Elem: e}); err != nil {
			return err
		}
		if err := untilAnswered(client, caddr, name, e.Addrs.At(0), t0, i); err != nil {
			return err
		}
		lat = append(lat, time.Since(t0))
	}
	after := a.drv.Stats()
	med, p99, worst := percentile(lat, 0.5), percentile(lat, 0.99), percentile(lat, 1)
	fmt.Printf("propagation, %d registrars: %d registrations at A, first in C's DNS answers after median %v, p99 %v, max %v\n",
		n, len(lat), med.Round(time.Microsecond), p99.Round(time.Microsecond), worst.Round(time.Microsecond))
	msgs := after.MsgsOut - before.MsgsOut
	bytes := after.BytesOut - before.BytesOut
	fmt.Printf("  A sent %d messages, %d bytes (ENRP, without TLS and TCP) for them: %.1f bytes per registration per peer (presence included)\n",
		msgs, bytes, float64(bytes)/float64(len(lat)*(n-1)))
	return nil
}

// syncBench fills registrar 0 with count elements in pools of perPool and
// times registrar 1's first sync.
func syncBench(ca *enrptest.CA, dir string, count, perPool int) error {
	a, err := start(ca, dir, 0, nil)
	if err != nil {
		return err
	}
	defer a.close()
	now := time.Now()
	var edits []handlespace.Edit
	for i := 0; i < count; i++ {
		e := element(i, now)
		e.Home = 0x1000
		e.Health = handlespace.HealthUp
		edits = append(edits, handlespace.Edit{Pool: fmt.Sprintf("s%d.pool.bench.", i/perPool), Put: e})
	}
	for _, err := range a.hs.ApplyEdits(edits) {
		if err != nil {
			return err
		}
	}
	// Let A's driver take the elements in: its Node must own them all
	// before B asks.
	for a.drv.Stats().Owned < count {
		time.Sleep(time.Millisecond)
	}
	t0 := time.Now()
	b, err := start(ca, dir, 1, []string{fmt.Sprintf("127.0.0.1:%d", *enrpPort)})
	if err != nil {
		return err
	}
	defer b.close()
	ch := b.hs.Subscribe()
	for countElements(b.hs) < count {
		select {
		case <-ch:
		case <-time.After(60 * time.Second):
			return fmt.Errorf("registrar B has %d of %d elements after 60 s", countElements(b.hs), count)
		}
	}
	took := time.Since(t0)
	last := element(count-1, now)
	// The element's own name: a pool's answer holds only 3 of its
	// elements.
	ok, err := answers(&dns.Client{Net: "udp", Timeout: time.Second}, fmt.Sprintf("127.0.0.2:%d", *dnsPort),
		fmt.Sprintf("%s.s%d.pool.bench.", last.Label.String(), (count-1)/perPool), last.Addrs.At(0))
	if err != nil || !ok {
		return fmt.Errorf("registrar B does not answer with the last element: %v", err)
	}
	st := b.drv.Stats()
	fmt.Printf("sync, %d elements in pools of %d: a new registrar has them all %v after it starts (connection and TLS handshake included); it received %d messages, %d bytes\n",
		count, perPool, took.Round(time.Millisecond), st.MsgsIn, st.BytesIn)
	return nil
}

func countElements(hs *handlespace.Handlespace) int {
	n := 0
	for _, z := range hs.View().Zones() {
		for _, h := range z.PoolHandles() {
			if pv := z.Pool(h); pv != nil {
				n += pv.Len()
			}
		}
	}
	return n
}

// updateBytes reports the encoded size of the HANDLE_UPDATE of a typical
// element: IPv4, a label, a lease, the pool's policy values.
func updateBytes() {
	e := element(42, time.Now())
	e.Home = 0x1000
	e.Health = handlespace.HealthUp
	for _, c := range []struct {
		what   string
		pool   string
		policy string
		e      *handlespace.Element
	}{
		{"IPv4, rr", "web.pool.example.", "rr", e},
		{"IPv4 + IPv6, lud", "web.pool.example.", "lud", func() *handlespace.Element {
			x := e.Clone()
			x.Addrs = x.Addrs.Append(netip.MustParseAddr("2001:db8::42"))
			return x
		}()},
	} {
		m := &wire.Message{Type: wire.TypeHandleUpdate, Sender: 1, Receiver: 2, Action: wire.AddPE,
			Entries: []wire.Entry{{Handle: []byte(c.pool), Elements: []wire.PE{wire.ToPE(c.e, c.policy, 0, time.Now())}}}}
		b, _ := m.Encode()
		std := *m
		pe := m.Entries[0].Elements[0]
		pe.X = nil
		std.Entries = []wire.Entry{{Handle: m.Entries[0].Handle, Elements: []wire.PE{pe}}}
		sb, _ := std.Encode()
		fmt.Printf("bytes per update (%s, pool %s): HANDLE_UPDATE %d bytes (%d of them poolnsd's extension); in a TLS 1.3 record of its own %d, in TCP/IPv4 %d\n",
			c.what, c.pool, len(b), len(b)-len(sb), len(b)+22, len(b)+22+52)
	}
	p := &wire.Message{Type: wire.TypePresence, Sender: 1, Receiver: 2, Checksum: 0xabcd, Digest: &wire.Digest{Count: 1, Hash: 1},
		Server: &wire.ServerInfo{ID: 1, Transport: wire.Transport{Proto: wire.ParamTCP, Port: 9901, Addrs: []netip.Addr{netip.MustParseAddr("127.0.0.1")}}}}
	pb, _ := p.Encode()
	fmt.Printf("PRESENCE: %d bytes, to each peer once a presence interval (1 s)\n", len(pb))
}

var tmpDir string

func main() {
	flag.Parse()
	dir, err := os.MkdirTemp("", "enrp-bench-")
	if err != nil {
		fail(err)
	}
	tmpDir = dir
	defer os.RemoveAll(dir)
	ca, err := enrptest.NewCA("bench CA")
	if err != nil {
		fail(err)
	}
	updateBytes()
	var ns []int
	for _, s := range strings.Split(*sizes, ",") {
		var n int
		fmt.Sscan(s, &n)
		ns = append(ns, n)
	}
	if *poolnsd != "" {
		for _, n := range ns {
			if err := propagationProcesses(ca, dir, *poolnsd, n); err != nil {
				fail(err)
			}
		}
	}
	for _, n := range ns {
		if err := propagation(ca, dir, n); err != nil {
			fail(err)
		}
	}
	if *syncN > 0 {
		if err := syncBench(ca, dir, *syncN, 100); err != nil {
			fail(err)
		}
		if err := syncBench(ca, dir, *syncN, *syncN); err != nil {
			fail(err)
		}
	}
}

func fail(err error) {
	if tmpDir != "" {
		os.RemoveAll(tmpDir)
	}
	var oe *net.OpError
	if errors.As(err, &oe) {
		fmt.Fprintln(os.Stderr, "enrp bench: needs 127.0.0.1-127.0.0.9 free on the DNS and ENRP ports:", err)
	} else {
		fmt.Fprintln(os.Stderr, "enrp bench:", err)
	}
	os.Exit(1)
}
