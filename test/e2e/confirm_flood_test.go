package e2e

import (
	"crypto/tls"
	binenc "encoding/binary"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/poolnsd/poolnsd/enrp/enrpnet"
	"github.com/poolnsd/poolnsd/enrp/enrptest"
	"github.com/poolnsd/poolnsd/enrp/wire"
	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/httpapi"
	"github.com/poolnsd/poolnsd/metrics/metricstest"
)

// TestPeeringConfirmFlood: bad confirmation requests at a real poolnsd
// (A, peering with B over TLS). A peer whose certificate comes from
// another CA is refused at the handshake. A trusted peer (C's
// certificate, over TLS) floods A with confirmation requests for 3 s: for
// elements A does not know and for elements homed at A, not at the asker.
// Every one is refused and counted (poolnsd_health_confirm_refused_total),
// the ERRORs that say so and A's log lines about them are rate-limited,
// nothing is probed, and meanwhile A answers every DNS query in full, its
// elements' health does not change and B never finds A dead.
func TestPeeringConfirmFlood(t *testing.T) {
	t.Parallel()
	ps, ca := peeringClusterCA(t, peeringZone)
	a, b, c := ps[0], ps[1], ps[2]
	startPeers(t, []*peer{a, b})
	for _, p := range []*peer{a, b} {
		p.p.waitLog(0, p.name+" synced", msgIs("synced with a peer"))
	}
	web := []string{"10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5", "10.0.0.6"}
	waitAnswer(t, "A", a.dns, "web.pool.example.", web)

	// A stranger: a certificate of another CA.
	other, err := enrptest.NewCA("another CA")
	if err != nil {
		t.Fatal(err)
	}
	dialAs := func(ca *enrptest.CA, name, ip string) (*tls.Conn, error) {
		f, err := ca.WriteFiles(t.TempDir(), name, ip)
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := enrpnet.LoadTLS(enrpnet.TLSFiles{Cert: f.Cert, Key: f.Key, CA: f.CA})
		if err != nil {
			t.Fatal(err)
		}
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: waitLimit}
		conn, err := tls.DialWithDialer(d, "tcp", a.enrp, cfg)
		if err != nil {
			return nil, err
		}
		// TLS 1.3: a refused client certificate shows at the first read.
		conn.SetReadDeadline(time.Now().Add(waitLimit))
		if _, err := conn.Read(make([]byte, 0)); err != nil {
			conn.Close()
			return nil, err
		}
		return conn, nil
	}
	from := a.p.cursor()
	if conn, err := dialAs(other, "mallory", "127.0.0.3"); err == nil {
		// The refusal may come with the first message read.
		hdr := make([]byte, 4)
		if _, err := io.ReadFull(conn, hdr); err == nil {
			t.Fatal("A talks to a peer with another CA's certificate")
		}
		conn.Close()
	}
	a.p.waitLog(from, "A refusing the stranger", func(r logRec) bool { return strings.HasPrefix(r.Str("msg"), "ENRP peer refused") })

	// The trusted flooder, as C.
	conn, err := dialAs(ca, "c", c.ip)
	if err != nil {
		t.Fatalf("C's certificate: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	var wmu sync.Mutex
	send := func(b []byte) {
		wmu.Lock()
		defer wmu.Unlock()
		conn.SetWriteDeadline(time.Now().Add(waitLimit))
		if _, err := conn.Write(b); err != nil {
			t.Errorf("writing to A: %v", err)
		}
	}
	presence := func(flags uint8) []byte {
		b, _ := (&wire.Message{Type: wire.TypePresence, Flags: flags, Sender: c.id, Receiver: a.id, Checksum: 0xffff}).Encode()
		return b
	}
	// Read what A sends: count the refusals, answer its questions, note
	// the LIST_RESPONSE that ends the flood.
	var refusals, listed, closed = make(chan *wire.Refused, 100000), make(chan struct{}, 1), make(chan struct{})
	go func() {
		defer close(closed)
		for {
			conn.SetReadDeadline(time.Now().Add(2 * waitLimit))
			hdr := make([]byte, 4)
			if _, err := io.ReadFull(conn, hdr); err != nil {
				return
			}
			buf := make([]byte, binenc.BigEndian.Uint16(hdr[2:]))
			copy(buf, hdr)
			if _, err := io.ReadFull(conn, buf[4:]); err != nil {
				return
			}
			m, err := wire.Decode(buf)
			if err != nil {
				t.Errorf("A sent a message that does not decode: %v", err)
				return
			}
			switch {
			case m.Type == wire.TypeError && m.Refused != nil && m.Refused.Request == wire.ParamXConfirmReq:
				refusals <- m.Refused
			case m.Type == wire.TypePresence && m.Has(wire.FlagReplyRequired):
				send(presence(0))
			case m.Type == wire.TypeListResponse:
				listed <- struct{}{}
			}
		}
	}()
	send(presence(0))
	a.p.waitLog(from, "A hearing C", eventIs("peer-up", "peer", handlespace.IDString(c.id)))
	// C live: the zone-file elements' homes move (C's share to C, which
	// is not a real registrar and will not take them).
	homes, _ := a.p.waitLog(from, "A's homes with C live", func(r logRec) bool {
		return r.Str("event") == "static-homes" && strings.Contains(r.Str("detail"), "live 3")
	})
	mine, _ := homes["count"].(float64)
	var before []httpapi.ElementJSON
	for deadline := time.Now().Add(waitLimit); ; {
		before = poolElements(t, "http://"+a.http, "web.pool.example.")
		n := 0
		for _, e := range before {
			if e.Home == handlespace.IDString(a.id) {
				n++
			}
		}
		if float64(n) == mine {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("A's API shows %d elements homed at A, its log %v", n, mine)
		}
		<-time.After(20 * time.Millisecond) // polling the API
	}

	// What A serves and homes before the flood.
	var atA []*handlespace.Element
	for _, e := range before {
		if e.Home == handlespace.IDString(a.id) {
			ad := netip.MustParseAddr(e.Addresses[0])
			atA = append(atA, &handlespace.Element{ID: handlespace.ElementID(ad, e.Port), Label: handlespace.LabelOf(e.Label),
				Addrs: handlespace.AddrsOf(ad), Port: e.Port, Home: a.id, Static: true})
		}
	}
	if len(atA) == 0 {
		t.Skip("A is home of none of web's elements with these registrar IDs")
	}
	scrapeA := func() metricstest.Samples {
		s, _, err := metricstest.Scrape(http.DefaultClient, "http://"+a.http+"/metrics")
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	refusedBefore, _ := scrapeA().Value("poolnsd_health_confirm_refused_total")
	logFrom, bFrom := a.p.cursor(), b.p.cursor()

	w := watch([]string{a.dns}, map[string][]string{"web.pool.example.": web})
	// At least 20 000 requests and 3 s of them.
	flood := 0
	start := time.Now()
	var chunk []byte
	for flood < 20000 || time.Since(start) < 3*time.Second {
		for range 500 {
			e := atA[flood%len(atA)].Clone()
			if flood%2 == 1 {
				e.ID = 0xdead0000 + uint32(flood) // unknown at A
			}
			m, err := enrptest.ConfirmRequest(c.id, a.id, "web.pool.example.", e, uint32(flood+1)).Encode()
			if err != nil {
				t.Fatal(err)
			}
			chunk = append(chunk, m...)
			flood++
		}
		send(append(presence(0), chunk...))
		chunk = chunk[:0]
		if flood >= 1_000_000 {
			break
		}
	}
	ask, _ := (&wire.Message{Type: wire.TypeListRequest, Sender: c.id, Receiver: a.id}).Encode()
	send(ask)
	select {
	case <-listed:
	case <-closed:
		t.Fatal("A closed the connection during the flood")
	case <-time.After(2 * waitLimit):
		t.Fatal("A did not answer a LIST_REQUEST sent after the flood")
	}
	took := time.Since(start)
	n, gaps := w.end()

	// Every request refused and counted; the counter may lag the answer.
	var refused float64
	for deadline := time.Now().Add(waitLimit); ; {
		v, _ := scrapeA().Value("poolnsd_health_confirm_refused_total")
		if refused = v - refusedBefore; refused >= float64(flood) || time.Now().After(deadline) {
			break
		}
		<-time.After(20 * time.Millisecond) // polling the metrics
	}
	if refused != float64(flood) {
		t.Errorf("poolnsd_health_confirm_refused_total rose by %v, want %d", refused, flood)
	}
	// ERRORs and log lines: a burst of 20, then 10 a second.
	limit := 21 + int(10*time.Since(start).Seconds())
	reasons := map[uint8]int{}
	for len(refusals) > 0 {
		reasons[(<-refusals).Reason]++
	}
	errs := 0
	for _, v := range reasons {
		errs += v
	}
	logged := 0
	for _, r := range a.p.Records(logFrom, a.p.cursor()) {
		if r.Str("event") == "confirm-refused" {
			logged++
		}
	}
	if errs == 0 || errs > limit || logged == 0 || logged > limit {
		t.Errorf("%d ERRORs (reasons %v) and %d log lines for %d refused requests in %v, want 1 to %d each",
			errs, reasons, logged, flood, took.Round(time.Millisecond), limit)
	}
	if n == 0 || len(gaps) > 0 {
		t.Errorf("%d queries of A during the flood, answers lacking elements: %v", n, gaps)
	}
	after := poolElements(t, "http://"+a.http, "web.pool.example.")
	if len(after) != len(before) {
		t.Fatalf("A has %d elements of web after the flood, had %d", len(after), len(before))
	}
	// Health and service, not homes: the zone-file elements' homes
	// follow the live set, and C, a hand-made client, may be found
	// silent and back while A works through the flood (under -race).
	for i := range after {
		if x, y := after[i], before[i]; x.ID != y.ID || x.Health != y.Health || x.Served != y.Served {
			t.Errorf("A's %s changed: %+v, was %+v", x.Label, x, y)
		}
	}
	for _, r := range b.p.Records(bFrom, b.p.cursor()) {
		if r.Str("event") == "peer-dead" && r.Str("peer") == handlespace.IDString(a.id) {
			t.Errorf("B found A dead during the flood: %v", r)
		}
	}
	if s := scrapeA(); s.Sum("poolnsd_health_peer_probes_total") != 0 {
		t.Errorf("A probed for the flood: %v", s.Sum("poolnsd_health_peer_probes_total"))
	}
	t.Logf("%d confirmation requests in %v: all refused (%d ERRORs sent, reasons %v; %d log lines); %d DNS queries of A meanwhile, all in full",
		flood, took.Round(time.Millisecond), errs, reasons, logged, n)
}
