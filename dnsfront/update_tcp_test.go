package dnsfront

import (
	"encoding/binary"
	"io"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/poolnsd/poolnsd/internal/udpbatch"
	"github.com/poolnsd/poolnsd/internal/updatetest"
	"github.com/poolnsd/poolnsd/metrics"
	"github.com/poolnsd/poolnsd/regcommit"
)

// rawExchangeTCP sends the messages bs over one TCP connection, all in
// one write (pipelined), and returns the replies' bytes in the order they
// came: one reply per message.
func rawExchangeTCP(t *testing.T, addr string, bs ...[]byte) [][]byte {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	var out []byte
	for _, b := range bs {
		out = binary.BigEndian.AppendUint16(out, uint16(len(b)))
		out = append(out, b...)
	}
	if _, err := c.Write(out); err != nil {
		t.Fatal(err)
	}
	var replies [][]byte
	for range bs {
		var n [2]byte
		if _, err := io.ReadFull(c, n[:]); err != nil {
			t.Fatalf("reply %d of %d: %v", len(replies)+1, len(bs), err)
		}
		r := make([]byte, binary.BigEndian.Uint16(n[:]))
		if _, err := io.ReadFull(c, r); err != nil {
			t.Fatal(err)
		}
		replies = append(replies, r)
	}
	return replies
}

// TestUpdateTCPPipelined: UPDATEs over TCP take the UDP loop's path
// (update.go: read from the bytes, TSIG verified from them, the reply
// packed and signed by hand) and keep TCP's behaviour: messages written
// at once on one connection are answered in order, one reply each, an
// update between two queries; a malformed update (an A record of 3
// bytes: its record in bounds, its data not an address) is FORMERR and
// the connection goes on; an unsigned one is REFUSED; a signed reply
// verifies with the key.
func TestUpdateTCPPipelined(t *testing.T) {
	addr, hs := startUpdServer(t)
	q := func(id uint16) []byte {
		m := new(dns.Msg)
		m.SetQuestion("web.pool.test.", dns.TypeA)
		m.Id = id
		b, err := m.Pack()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	upd := updatetest.Msg(t, updatetest.PE("tcp1", 80, "192.0.2.21", 30)...)
	upd.Id = 2
	signedUpd := signed(t, upd, updatetest.KeyAll, dns.HmacSHA256, updatetest.Secret, time.Now())

	bad := updatetest.Msg(t, "+ tcp2.dyn.pool.test. 30 IN A 192.0.2.22")
	bad.Id = 3
	badB, err := bad.Pack()
	if err != nil {
		t.Fatal(err)
	}
	// The A record is the last: its RDLENGTH 3, the message a byte shorter.
	binary.BigEndian.PutUint16(badB[len(badB)-6:], 3)
	badB = badB[:len(badB)-1]
	if err := new(dns.Msg).Unpack(badB); err == nil {
		t.Fatal("the malformed update unpacks")
	}

	unsigned := updatetest.Msg(t, updatetest.PE("tcp3", 80, "192.0.2.23", 30)...)
	unsigned.Id = 4
	unsignedB, err := unsigned.Pack()
	if err != nil {
		t.Fatal(err)
	}

	replies := rawExchangeTCP(t, addr, q(1), signedUpd, badB, unsignedB, q(5))
	want := []struct {
		id    uint16
		rcode int
	}{{1, dns.RcodeSuccess}, {2, dns.RcodeSuccess}, {3, dns.RcodeFormatError}, {4, dns.RcodeRefused}, {5, dns.RcodeSuccess}}
	for i, rb := range replies {
		r := unpack(t, rb)
		if r.Id != want[i].id || r.Rcode != want[i].rcode || !r.Response {
			t.Errorf("reply %d: id %d %s, want id %d %s", i+1, r.Id, updatetest.Rcode(r), want[i].id, dns.RcodeToString[want[i].rcode])
		}
	}
	if err := verifyReply(replies[1], updatetest.Secret, requestMAC(t, signedUpd)); err != nil {
		t.Errorf("signed update's reply: %v", err)
	}
	if ts := unpack(t, replies[3]).IsTsig(); ts != nil {
		t.Errorf("the unsigned update's reply is signed: %v", ts)
	}
	pv := hs.View().Zone("pool.test.").Pool("dyn")
	if pv == nil || pv.Label("tcp1") == nil {
		t.Error("the signed update over TCP did not register")
	}
	if pv != nil && (pv.Label("tcp2") != nil || pv.Label("tcp3") != nil) {
		t.Error("a refused update over TCP registered")
	}
}

// panicUpdater is an Updater whose Allow panics: a defect while an
// UPDATE is answered, after its TSIG is checked and before its zone
// section is.
type panicUpdater struct{ Updater }

func (panicUpdater) Allow(netip.Addr) bool { panic("a defect") }

// TestUpdateZoneEcho: every reply to an UPDATE, over UDP and TCP, whether
// it was answered (FORMERR for two zone records) or a panic was (SERVFAIL),
// echoes the zone section as RFC 2136 §3.8 allows: a zone section of one
// record copied with its count, else no part of the update and a count of
// 0, never a count of 1 for a section of two. A panicked UPDATE of two zone
// records is counted as a message without a question.
func TestUpdateZoneEcho(t *testing.T) {
	hs := newTestSpace(t)
	_, reg := updatetest.Committer(t, hs, regcommit.Config{})
	addrOK, _ := serveTest(t, Config{Logger: discardLog(), Updates: reg, TSIG: testKeys}, hs)
	dm := metrics.New(metrics.Options{NoRuntime: true}).DNS()
	addrPanic, _ := serveTest(t, Config{Logger: discardLog(), Updates: panicUpdater{reg}, TSIG: testKeys, Metrics: dm}, hs)
	two := func(id uint16) []byte {
		m := updatetest.Msg(t, updatetest.PE("z2", 80, "192.0.2.32", 30)...)
		m.Id = id
		m.Question = append(m.Question, dns.Question{Name: "other.test.", Qtype: dns.TypeSOA, Qclass: dns.ClassINET})
		m.SetEdns0(1232, false)
		b, err := m.Pack()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	one := func(id uint16) []byte {
		m := updatetest.Msg(t, updatetest.PE("z1", 80, "192.0.2.31", 30)...)
		m.Id = id
		b, err := m.Pack()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	cases := []struct {
		name  string
		addr  string
		b     []byte
		rcode int
		zone  string // the zone record echoed, "" for none
	}{
		{"two zones", addrOK, two(1), dns.RcodeFormatError, ""},
		{"two zones, panic", addrPanic, two(2), dns.RcodeServerFailure, ""},
		{"one zone, panic", addrPanic, one(3), dns.RcodeServerFailure, "pool.test."},
		{"one zone", addrOK, one(4), dns.RcodeRefused, "pool.test."}, // unsigned
	}
	for _, c := range cases {
		for _, tcp := range []bool{false, true} {
			var rb []byte
			if tcp {
				rb = rawExchangeTCP(t, c.addr, c.b)[0]
			} else {
				rb = rawExchange(t, c.addr, c.b)
			}
			r := unpack(t, rb)
			qd := binary.BigEndian.Uint16(rb[4:])
			ok := r.Id == binary.BigEndian.Uint16(c.b) && r.Response && r.Opcode == dns.OpcodeUpdate && r.Rcode == c.rcode &&
				binary.BigEndian.Uint32(rb[6:]) == 0
			switch {
			case c.zone == "":
				ok = ok && qd == 0
			default:
				ok = ok && qd == 1 && r.Question[0].Name == c.zone && r.Question[0].Qtype == dns.TypeSOA
			}
			if !ok {
				t.Errorf("%s (tcp %v): reply\n%v", c.name, tcp, r)
			}
		}
	}
	// The panics: counted as messages without a question (two zone
	// records) and as SOA queries (one), SERVFAIL, over each transport.
	var noQ, soa uint64
	dm.EachQuery(func(qtype, rcode, transport string, n uint64) {
		if rcode != "SERVFAIL" {
			return
		}
		switch qtype {
		case "none":
			noQ += n
		case "SOA":
			soa += n
		}
	})
	if noQ != 2 || soa != 2 {
		t.Errorf("SERVFAIL counted: %d without a question, %d SOA; want 2 and 2", noQ, soa)
	}
}

// TestRecoverUpdateZoneEcho: the UDP loop's own recovery (a panic before
// an UPDATE leaves the loop: Recover) answers as TestUpdateZoneEcho's
// panics are answered: the zone record echoed when the section is one,
// none for two, and the SERVFAIL counted as an SOA query or as a message
// without a question.
func TestRecoverUpdateZoneEcho(t *testing.T) {
	dm := metrics.New(metrics.Options{NoRuntime: true}).DNS()
	u := loopFor(t, NewHandler(newTestSpace(t), Config{Logger: discardLog(), Metrics: dm}))
	from := udpbatch.AddrFrom(netip.MustParseAddrPort("127.0.0.1:40000"), false)
	for _, zones := range []int{1, 2} {
		m := updatetest.Msg(t, updatetest.PE("r1", 80, "192.0.2.41", 30)...)
		m.Id = uint16(zones)
		if zones == 2 {
			m.Question = append(m.Question, dns.Question{Name: "other.test.", Qtype: dns.TypeSOA, Qclass: dns.ClassINET})
		}
		b, err := m.Pack()
		if err != nil {
			t.Fatal(err)
		}
		rb := u.Recover(&udpbatch.Msg{Buf: b, Addr: from}, nil, "a defect")
		r := unpack(t, rb)
		if r.Id != uint16(zones) || r.Rcode != dns.RcodeServerFailure || r.Opcode != dns.OpcodeUpdate ||
			len(r.Question) != 2-zones || (zones == 1 && r.Question[0].Name != "pool.test.") {
			t.Errorf("%d zone records: reply\n%v", zones, r)
		}
	}
	counts := map[string]uint64{}
	dm.EachQuery(func(qtype, rcode, transport string, n uint64) { counts[qtype+" "+rcode] += n })
	if counts["SOA SERVFAIL"] != 1 || counts["none SERVFAIL"] != 1 {
		t.Errorf("counted %v, want one SOA and one without a question, SERVFAIL", counts)
	}
}
