package enrpnet_test

import (
	"bytes"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/poolnsd/poolnsd/enrp"
	"github.com/poolnsd/poolnsd/enrp/enrpnet"
	"github.com/poolnsd/poolnsd/enrp/enrptest"
	"github.com/poolnsd/poolnsd/enrp/wire"
	"github.com/poolnsd/poolnsd/handlespace"
)

// waitLimit bounds every wait of the driver tests: they wait for a
// condition, never sleep.
const waitLimit = 10 * time.Second

// logBuf collects log output and signals each write.
type logBuf struct {
	mu   sync.Mutex
	b    bytes.Buffer
	wake chan struct{}
}

func newLogBuf() *logBuf { return &logBuf{wake: make(chan struct{}, 1)} }

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	l.b.Write(p)
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
	return len(p), nil
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// waitLog waits for a log line containing all of words.
func (l *logBuf) waitLog(t *testing.T, words ...string) string {
	t.Helper()
	deadline := time.NewTimer(waitLimit)
	defer deadline.Stop()
	for {
		for _, line := range strings.Split(l.String(), "\n") {
			ok := true
			for _, w := range words {
				ok = ok && strings.Contains(line, w)
			}
			if ok {
				return line
			}
		}
		select {
		case <-l.wake:
		case <-deadline.C:
			t.Fatalf("no log line with %q in:\n%s", words, l.String())
		}
	}
}

// waitHS waits until cond holds of hs, looking after each change.
func waitHS(t *testing.T, hs *handlespace.Handlespace, what string, cond func() bool) {
	t.Helper()
	ch := hs.Subscribe()
	deadline := time.NewTimer(waitLimit)
	defer deadline.Stop()
	for !cond() {
		select {
		case <-ch:
		case <-deadline.C:
			t.Fatalf("%s: not within %v", what, waitLimit)
		}
	}
}

type registrar struct {
	hs  *handlespace.Handlespace
	drv *enrpnet.Driver
	log *logBuf
}

func startRegistrar(t *testing.T, id uint32, tlsc *tls.Config, peers ...string) *registrar {
	t.Helper()
	return startRegistrarWith(t, id, tlsc, nil, peers...)
}

// startRegistrarWith is startRegistrar with edit applied to the driver's
// configuration.
func startRegistrarWith(t *testing.T, id uint32, tlsc *tls.Config, edit func(*enrpnet.DriverConfig), peers ...string) *registrar {
	t.Helper()
	hs := handlespace.New(handlespace.Options{RegistrarID: id})
	if err := hs.ApplyZones(enrptest.Zones(t, 4)); err != nil {
		t.Fatal(err)
	}
	lb := newLogBuf()
	cfg := enrpnet.DriverConfig{
		Node:        enrp.Config{ID: id, PresenceInterval: 200 * time.Millisecond},
		Listen:      "127.0.0.1:0",
		Peers:       peers,
		TLS:         tlsc,
		Handlespace: hs,
		Logger:      slog.New(slog.NewTextHandler(lb, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if edit != nil {
		edit(&cfg)
	}
	drv, err := enrpnet.StartDriver(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		drv.Close()
		if t.Failed() {
			t.Logf("registrar %08x log:\n%s", id, lb.String())
		}
	})
	return &registrar{hs: hs, drv: drv, log: lb}
}

func tlsFor(t *testing.T, ca *enrptest.CA, name string) *tls.Config {
	t.Helper()
	f, err := ca.WriteFiles(t.TempDir(), name, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	c, err := enrpnet.LoadTLS(enrpnet.TLSFiles{Cert: f.Cert, Key: f.Key, CA: f.CA})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func element(i int) *handlespace.Element {
	a := netip.AddrFrom4([4]byte{10, 1, 0, byte(i)})
	return &handlespace.Element{ID: uint32(1000 + i), Label: handlespace.LabelOf("pe" + string(rune('a'+i))), Addrs: handlespace.AddrsOf(a), Port: 8080,
		Expires: handlespace.ExpiryOf(time.Now().Add(time.Hour))}
}

// TestDriverTLS: two registrars with certificates of one CA peer over TLS
// 1.3; a registration at one reaches the other, with its home.
func TestDriverTLS(t *testing.T) {
	ca, err := enrptest.NewCA("test CA")
	if err != nil {
		t.Fatal(err)
	}
	a := startRegistrar(t, 0xa, tlsFor(t, ca, "a"))
	b := startRegistrar(t, 0xb, tlsFor(t, ca, "b"), a.drv.Addr().String())
	if err := a.hs.Do(handlespace.Op{Pool: "web.pool.test.", Elem: element(1), Policy: "wrr"}); err != nil {
		t.Fatal(err)
	}
	waitHS(t, b.hs, "A's registration at B", func() bool {
		z := b.hs.View().Zone("pool.test.")
		pv := z.Pool("web")
		return pv != nil && pv.Element(1001) != nil && pv.Element(1001).Home == 0xa && pv.Spec.Policy == "wrr"
	})
	// And back: B's registration at A.
	if err := b.hs.Do(handlespace.Op{Pool: "web.pool.test.", Elem: element(2)}); err != nil {
		t.Fatal(err)
	}
	waitHS(t, a.hs, "B's registration at A", func() bool {
		pv := a.hs.View().Zone("pool.test.").Pool("web")
		return pv.Element(1002) != nil && pv.Element(1002).Home == 0xb
	})
	a.log.waitLog(t, "ENRP peer-up", "peer=0000000b")
	if st := a.drv.Stats(); st.Refused != 0 || st.Malformed != 0 {
		t.Errorf("stats %+v", st)
	}
}

// TestDriverRefusesUntrusted: a peer whose certificate another CA signed,
// or that has none, is refused at the handshake and logged; so is a
// server whose certificate does not name the address dialled.
func TestDriverRefusesUntrusted(t *testing.T) {
	ca, _ := enrptest.NewCA("good CA")
	other, _ := enrptest.NewCA("other CA")
	a := startRegistrar(t, 0xa, tlsFor(t, ca, "a"))
	// A registrar with the other CA's certificate dials A.
	m := startRegistrar(t, 0xe, tlsFor(t, other, "mallory"), a.drv.Addr().String())
	a.log.waitLog(t, "ENRP peer refused", "incoming=true")
	m.log.waitLog(t, "ENRP peer refused", a.drv.Addr().String())
	// A client without a certificate.
	c, err := tls.Dial("tcp", a.drv.Addr().String(), &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS13})
	if err == nil {
		// TLS 1.3 reports the server's refusal on the first read.
		c.SetReadDeadline(time.Now().Add(waitLimit))
		_, err = c.Read(make([]byte, 1))
		c.Close()
	}
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("a client without a certificate: %v, want a certificate error", err)
	}
	// The client sees the refusal as soon as the server sends its alert,
	// which may be before the server has counted it.
	for deadline := time.Now().Add(waitLimit); a.drv.Stats().Refused < 2 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	if a.drv.Stats().Refused < 2 {
		t.Errorf("A refused %d connections, want 2", a.drv.Stats().Refused)
	}
	if len(a.drv.Peers()) != 0 {
		t.Errorf("A has peers %v", a.drv.Peers())
	}
	// A certificate of the right CA, but not for the address dialled.
	f, _ := ca.WriteFiles(t.TempDir(), "wrongip", "127.0.0.9")
	wrong, err := enrpnet.LoadTLS(enrpnet.TLSFiles{Cert: f.Cert, Key: f.Key, CA: f.CA})
	if err != nil {
		t.Fatal(err)
	}
	w := startRegistrar(t, 0xf, wrong)
	b := startRegistrar(t, 0xb, tlsFor(t, ca, "b"), w.drv.Addr().String())
	b.log.waitLog(t, "ENRP peer refused", "127.0.0.9")
}

// rawConn is a plain TCP client speaking ENRP by hand.
type rawConn struct {
	t *testing.T
	c net.Conn
}

func dialRaw(t *testing.T, addr string) *rawConn {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawConn{t, c}
}

func (r *rawConn) send(b []byte) {
	if _, err := r.c.Write(b); err != nil {
		r.t.Fatal(err)
	}
}

// next reads the next message; nil at EOF.
func (r *rawConn) next() *wire.Message {
	r.t.Helper()
	r.c.SetReadDeadline(time.Now().Add(waitLimit))
	hdr := make([]byte, 4)
	if _, err := io.ReadFull(r.c, hdr); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || strings.Contains(err.Error(), "reset") {
			return nil
		}
		r.t.Fatal(err)
	}
	n := int(binary.BigEndian.Uint16(hdr[2:]))
	b := make([]byte, n)
	copy(b, hdr)
	if _, err := io.ReadFull(r.c, b[4:]); err != nil {
		r.t.Fatal(err)
	}
	m, err := wire.Decode(b)
	if err != nil {
		r.t.Fatalf("the registrar sent a message that does not decode: %v", err)
	}
	return m
}

// nextOf reads messages until one of type typ.
func (r *rawConn) nextOf(typ wire.Type) *wire.Message {
	r.t.Helper()
	for i := 0; i < 100; i++ {
		m := r.next()
		if m == nil {
			r.t.Fatalf("connection closed while waiting for %v", typ)
		}
		if m.Type == typ {
			return m
		}
	}
	r.t.Fatalf("no %v in 100 messages", typ)
	return nil
}

// TestDriverMalformed: in insecure mode, a hand-made client gets ERROR
// (unrecognized message) for an unknown type and stays connected; a
// malformed message gets ERROR (invalid values, saying why) and the
// connection is closed.
func TestDriverMalformed(t *testing.T) {
	a := startRegistrar(t, 0xa, nil)
	r := dialRaw(t, a.drv.Addr().String())
	unknown := []byte{0x7f, 0, 0, 12, 0, 0, 0, 0xe, 0, 0, 0, 0xa}
	r.send(unknown)
	e := r.nextOf(wire.TypeError)
	if len(e.Causes) != 1 || e.Causes[0].Code != wire.CauseUnrecognizedMessage {
		t.Fatalf("ERROR for an unknown type: %+v", e)
	}
	// Still connected: a reply-required PRESENCE is answered.
	p, _ := (&wire.Message{Type: wire.TypePresence, Flags: wire.FlagReplyRequired, Sender: 0xe, Receiver: 0xa, Checksum: 0xffff}).Encode()
	r.send(p)
	if m := r.nextOf(wire.TypePresence); m.Sender != 0xa {
		t.Fatalf("PRESENCE %v", m)
	}
	// A PRESENCE without its checksum parameter is malformed.
	bad := []byte{1, 0, 0, 12, 0, 0, 0, 0xe, 0, 0, 0, 0xa}
	r.send(bad)
	e = r.nextOf(wire.TypeError)
	if e.Causes[0].Code != wire.CauseInvalidValues || !strings.Contains(string(e.Causes[0].Info), "without a PE checksum") {
		t.Fatalf("ERROR for a malformed message: %+v (%q)", e, e.Causes[0].Info)
	}
	for i := 0; i < 100; i++ {
		m := r.next()
		if m == nil {
			break
		}
		if i == 99 {
			t.Fatal("connection not closed after a malformed message")
		}
	}
	a.log.waitLog(t, "malformed ENRP message; closing the connection", "without a PE checksum")
	// A length field below 4 cannot even be framed.
	r2 := dialRaw(t, a.drv.Addr().String())
	r2.send([]byte{1, 0, 0, 2})
	if e := r2.nextOf(wire.TypeError); e.Causes[0].Code != wire.CauseInvalidValues {
		t.Fatalf("ERROR %+v", e)
	}
	if st := a.drv.Stats(); st.Malformed != 2 {
		t.Errorf("%d malformed, want 2", st.Malformed)
	}
}

// TestDriverLearnsPeers: C knows only A, and learns B from A's
// LIST_RESPONSE.
func TestDriverLearnsPeers(t *testing.T) {
	a := startRegistrar(t, 0xa, nil)
	b := startRegistrar(t, 0xb, nil, a.drv.Addr().String())
	c := startRegistrar(t, 0xc, nil, a.drv.Addr().String())
	if err := b.hs.Do(handlespace.Op{Pool: "web.pool.test.", Elem: element(3)}); err != nil {
		t.Fatal(err)
	}
	waitHS(t, c.hs, "B's registration at C", func() bool {
		pv := c.hs.View().Zone("pool.test.").Pool("web")
		return pv != nil && pv.Element(1003) != nil
	})
	c.log.waitLog(t, "ENRP peer-up", "peer=0000000b")
	b.log.waitLog(t, "ENRP peer-up", "peer=0000000c")
}

// TestDriverSelfInPeers: a peer list that names the registrar itself (one
// list shared by all) costs one connection to itself, which it recognises
// and does not dial again.
func TestDriverSelfInPeers(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	hs := handlespace.New(handlespace.Options{RegistrarID: 0xa})
	lb := newLogBuf()
	drv, err := enrpnet.StartDriver(enrpnet.DriverConfig{
		Node:        enrp.Config{ID: 0xa},
		Listen:      addr,
		Advertise:   "127.0.0.9:9901", // not what is dialled: the connection itself must tell
		Peers:       []string{addr},
		Handlespace: hs,
		Logger:      slog.New(slog.NewTextHandler(lb, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer drv.Close()
	lb.waitLog(t, "has this registrar's own ID")
	if p := drv.Peers(); len(p) != 0 {
		t.Errorf("peers %v: the registrar took itself for a peer", p)
	}
}

// TestDriverRequestsOverTLS: over real TLS connections, a failure report
// at B of A's registration reaches A's OnReport with the reporter's
// address, and what A makes of it (Reported) comes back to B; an
// administrative request that A's OnAdmin cannot carry out comes back to
// B's watchers as a refusal naming A and A's words, at once.
func TestDriverRequestsOverTLS(t *testing.T) {
	ca, err := enrptest.NewCA("test CA")
	if err != nil {
		t.Fatal(err)
	}
	reports := make(chan enrp.ReportRequest, 4)
	var a *registrar
	a = startRegistrarWith(t, 0xa, tlsFor(t, ca, "a"), func(c *enrpnet.DriverConfig) {
		c.OnReport = func(r enrp.ReportRequest) error {
			reports <- r
			return a.hs.Update(r.Pool, r.ID, func(e *handlespace.Element) { e.Reported = true })
		}
		c.OnAdmin = func(enrp.AdminRequest) error { return errors.New("the store is read-only") }
	})
	b := startRegistrar(t, 0xb, tlsFor(t, ca, "b"), a.drv.Addr().String())
	if err := a.hs.Do(handlespace.Op{Pool: "web.pool.test.", Elem: element(1), Policy: "wrr"}); err != nil {
		t.Fatal(err)
	}
	elem := func() *handlespace.Element {
		pv := b.hs.View().Zone("pool.test.").Pool("web")
		if pv == nil {
			return nil
		}
		return pv.Element(1001)
	}
	waitHS(t, b.hs, "A's registration at B", func() bool { return elem() != nil && elem().Home == 0xa })

	user := netip.MustParseAddr("192.0.2.99")
	if home, err := b.drv.RequestReport("web.pool.test.", 1001, user); err != nil || home != 0xa {
		t.Fatalf("report at B: home %08x, %v", home, err)
	}
	select {
	case r := <-reports:
		if r.Reporter != user || r.From != 0xb || r.Pool != "web.pool.test." || r.ID != 1001 {
			t.Fatalf("A counted %+v", r)
		}
	case <-time.After(waitLimit):
		t.Fatal("A did not get the report")
	}
	waitHS(t, b.hs, "A's reported flag at B", func() bool { return elem().Reported })

	refused, stop := b.drv.WatchRefusals("web.pool.test.", 1001)
	defer stop()
	if _, err := b.drv.RequestAdmin("web.pool.test.", 1001, handlespace.AdminDrain); err != nil {
		t.Fatal(err)
	}
	select {
	case re := <-refused:
		if re.Home != 0xa || re.Request != wire.ParamXAdminReq || re.Reason != wire.RefusedFailed || re.Stale() ||
			!strings.Contains(re.Error(), "the store is read-only") {
			t.Fatalf("refusal %+v: %v", re.Refusal, re)
		}
		t.Logf("refused: %v", re)
	case <-time.After(waitLimit):
		t.Fatal("no refusal at B")
	}
	if elem().Admin != handlespace.AdminAuto {
		t.Errorf("the refused drain took effect: %s", elem().Admin)
	}
}

// TestDriverEventBeforeLog: OnEvent (the metrics) hears of each event
// before its log line is written, so that whoever reads the line and then
// scrapes finds the event counted.
func TestDriverEventBeforeLog(t *testing.T) {
	ca, err := enrptest.NewCA("test CA")
	if err != nil {
		t.Fatal(err)
	}
	lb := newLogBuf()
	lines := func() int { return strings.Count(lb.String(), " event=") }
	var mu sync.Mutex
	heard, early := 0, 0
	a := startRegistrarWith(t, 0xa, tlsFor(t, ca, "a"), func(c *enrpnet.DriverConfig) {
		c.Logger = slog.New(slog.NewTextHandler(lb, &slog.HandlerOptions{Level: slog.LevelDebug}))
		c.OnEvent = func(ev enrp.Event) {
			mu.Lock()
			defer mu.Unlock()
			if lines() != heard {
				early++
			}
			heard++
		}
	})
	startRegistrar(t, 0xb, tlsFor(t, ca, "b"), a.drv.Addr().String())
	lb.waitLog(t, "ENRP peer-up", "peer=0000000b")
	mu.Lock()
	defer mu.Unlock()
	if heard == 0 || early != 0 || lines() < heard {
		t.Errorf("%d events heard, %d of them after their log line; %d event lines logged", heard, early, lines())
	}
}

// TestDriverStatusBeforeEvent: when an event is heard (OnEvent, before its
// log line), Peers already says what it tells: B up at its peer-up, dead
// at its peer-dead. (The status was made after the events: a test that
// read the metrics on a takeover-done log line found the dead peer still
// "suspect".)
func TestDriverStatusBeforeEvent(t *testing.T) {
	ca, err := enrptest.NewCA("test CA")
	if err != nil {
		t.Fatal(err)
	}
	var drv atomic.Pointer[enrpnet.Driver]
	type seen struct {
		kind enrp.EventKind
		st   enrp.PeerState
		ok   bool
	}
	got := make(chan seen, 16)
	a := startRegistrarWith(t, 0xa, tlsFor(t, ca, "a"), func(c *enrpnet.DriverConfig) {
		c.Node.MaxTimeLastHeard = 300 * time.Millisecond
		c.Node.MaxTimeNoResponse = 200 * time.Millisecond
		c.OnEvent = func(ev enrp.Event) {
			d := drv.Load()
			if d == nil || ev.Peer != 0xb || (ev.Kind != enrp.EventPeerUp && ev.Kind != enrp.EventPeerDead) {
				return
			}
			s := seen{kind: ev.Kind}
			for _, p := range d.Peers() {
				if p.ID == 0xb {
					s.st, s.ok = p, true
				}
			}
			select {
			case got <- s:
			default:
			}
		}
	})
	drv.Store(a.drv)
	b := startRegistrar(t, 0xb, tlsFor(t, ca, "b"), a.drv.Addr().String())
	wait := func(kind enrp.EventKind) seen {
		t.Helper()
		deadline := time.After(waitLimit)
		for {
			select {
			case s := <-got:
				if s.kind == kind {
					return s
				}
			case <-deadline:
				t.Fatalf("no event %v for B within %v", kind, waitLimit)
			}
		}
	}
	if s := wait(enrp.EventPeerUp); !s.ok || s.st.Dead || s.st.Suspect {
		t.Errorf("at B's peer-up, Peers has B %v (listed %v), want it up", s.st, s.ok)
	}
	b.drv.Close()
	if s := wait(enrp.EventPeerDead); !s.ok || !s.st.Dead {
		t.Errorf("at B's peer-dead, Peers has B %v (listed %v), want it dead", s.st, s.ok)
	}
}
