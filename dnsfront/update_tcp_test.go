package dnsfront

import (
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/poolnsd/poolnsd/internal/updatetest"
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
