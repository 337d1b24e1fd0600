package msgcheck

import (
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// tcpReader is miekg/dns's own reading of a TCP message (a length, then
// the message), the Reader that the server's DecorateReader gets.
type tcpReader struct{}

func (tcpReader) ReadTCP(conn net.Conn, timeout time.Duration) ([]byte, error) {
	conn.SetReadDeadline(time.Now().Add(timeout))
	var l [2]byte
	if _, err := io.ReadFull(conn, l[:]); err != nil {
		return nil, err
	}
	b := make([]byte, binary.BigEndian.Uint16(l[:]))
	_, err := io.ReadFull(conn, b)
	return b, err
}

func (tcpReader) ReadUDP(*net.UDPConn, time.Duration) ([]byte, *dns.SessionUDP, error) {
	panic("not used over TCP")
}

// TestReaderTCP: over one TCP connection, the Reader answers the messages
// that get an error itself (FORMERR, NOTIMP, with the question, and an OPT
// of its UDP size when the query's was well placed), drops the responses, tells Rejected of each, and
// hands on only the query after them, as it came.
func TestReaderTCP(t *testing.T) {
	srv, cli := net.Pipe()
	defer srv.Close()
	defer cli.Close()
	var rejected []Verdict
	r := &Reader{Reader: tcpReader{}, UDPSize: 1232, Rejected: func(v Verdict) { rejected = append(rejected, v) }}

	q := new(dns.Msg)
	q.SetQuestion("web.pool.test.", dns.TypeA)
	q.SetEdns0(4096, false)
	good := rawMsg(t, q, nil)
	// An authority record more than there is: the OPT is read as it,
	// misplaced, and the message ends early.
	formerr := rawMsg(t, q, func(b []byte) []byte { return setCount(b, 2, 1) })
	resp := rawMsg(t, q, func(b []byte) []byte { return setBits(b, BitQR) })
	notimp := rawMsg(t, q, func(b []byte) []byte { return setBits(b, uint16(dns.OpcodeStatus)<<11) })

	go func() {
		for _, b := range [][]byte{formerr, resp, notimp, good} {
			cli.Write(binary.BigEndian.AppendUint16(nil, uint16(len(b))))
			cli.Write(b)
		}
	}()
	replies := make(chan []*dns.Msg, 1)
	go func() {
		var got []*dns.Msg
		for range 2 {
			b, err := tcpReader{}.ReadTCP(cli, 5*time.Second)
			m := new(dns.Msg)
			if err != nil || m.Unpack(b) != nil {
				break
			}
			got = append(got, m)
		}
		replies <- got
	}()
	b, err := r.ReadTCP(srv, 5*time.Second)
	if err != nil || string(b) != string(good) {
		t.Fatalf("ReadTCP: %v, % x; want the good query", err, b)
	}
	got := <-replies
	want := []int{dns.RcodeFormatError, dns.RcodeNotImplemented}
	if len(got) != len(want) {
		t.Fatalf("%d error replies, want %d", len(got), len(want))
	}
	for i, m := range got {
		opt := m.IsEdns0()
		if m.Rcode != want[i] || !m.Response || m.Id != q.Id || len(m.Question) != 1 || (i == 0) != (opt == nil) || (opt != nil && opt.UDPSize() != 1232) {
			t.Errorf("reply %d: %v; want %s with the question (and for NOTIMP an OPT of 1232)", i, m, dns.RcodeToString[want[i]])
		}
	}
	if wantV := []Verdict{FormErr, Drop, NotImp}; len(rejected) != len(wantV) || rejected[0] != wantV[0] || rejected[1] != wantV[1] || rejected[2] != wantV[2] {
		t.Errorf("Rejected told %v, want %v", rejected, wantV)
	}
}

// TestAccept: responses ignored, the rest accepted (the Reader has turned
// away what must not reach the handler), updates included.
func TestAccept(t *testing.T) {
	for _, c := range []struct {
		hdr  dns.Header
		want dns.MsgAcceptAction
	}{
		{dns.Header{Bits: 1 << 15, Qdcount: 1}, dns.MsgIgnore},
		{dns.Header{Bits: uint16(dns.OpcodeUpdate) << 11, Qdcount: 1, Ancount: 3, Nscount: 40, Arcount: 2}, dns.MsgAccept},
		{dns.Header{Qdcount: 1, Arcount: 1}, dns.MsgAccept},
	} {
		if got := Accept(c.hdr); got != c.want {
			t.Errorf("Accept(%+v) = %v, want %v", c.hdr, got, c.want)
		}
	}
}

// timeoutReader is tcpReader, noting the timeout of each read.
type timeoutReader struct {
	tcpReader
	timeouts []time.Duration
}

func (r *timeoutReader) ReadTCP(conn net.Conn, timeout time.Duration) ([]byte, error) {
	r.timeouts = append(r.timeouts, timeout)
	return r.tcpReader.ReadTCP(conn, timeout)
}

// TestReaderUpdate: with Update set, the Reader hands each UPDATE that
// Check serves to it (the bytes and what Check read) and reads on, with
// the server's idle timeout, as the server does after a message it
// answers (8 s when it has none); the query after it is handed on.
func TestReaderUpdate(t *testing.T) {
	for _, c := range []struct {
		name string
		idle func() time.Duration
		want time.Duration
	}{
		{"the default idle timeout", nil, 8 * time.Second},
		{"the server's", func() time.Duration { return 3 * time.Second }, 3 * time.Second},
	} {
		srv, cli := net.Pipe()
		tr := &timeoutReader{}
		var updates [][]byte
		r := &Reader{Reader: tr, UDPSize: 1232, Idle: c.idle, Update: func(conn net.Conn, b []byte, m *Msg) error {
			if conn != srv || m.Opcode() != dns.OpcodeUpdate || m.ID != binary.BigEndian.Uint16(b) {
				t.Errorf("%s: Update got %v, % x", c.name, m, b)
			}
			updates = append(updates, b)
			return nil
		}}
		upd := new(dns.Msg)
		upd.SetUpdate("pool.test.")
		upd.Insert([]dns.RR{&dns.A{Hdr: dns.RR_Header{Name: "x.dyn.pool.test.", Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 30}, A: []byte{192, 0, 2, 1}}})
		ub := rawMsg(t, upd, nil)
		q := new(dns.Msg)
		q.SetQuestion("web.pool.test.", dns.TypeA)
		qb := rawMsg(t, q, nil)
		go func() {
			for _, b := range [][]byte{ub, qb} {
				cli.Write(append(binary.BigEndian.AppendUint16(nil, uint16(len(b))), b...))
			}
		}()
		b, err := r.ReadTCP(srv, 2*time.Second)
		if err != nil || string(b) != string(qb) {
			t.Errorf("%s: ReadTCP: %v, % x; want the query", c.name, err, b)
		}
		if len(updates) != 1 || string(updates[0]) != string(ub) {
			t.Errorf("%s: Update got %d messages, want the update", c.name, len(updates))
		}
		if len(tr.timeouts) != 2 || tr.timeouts[0] != 2*time.Second || tr.timeouts[1] != c.want {
			t.Errorf("%s: reads with timeouts %v, want [2s %v]", c.name, tr.timeouts, c.want)
		}
		srv.Close()
		cli.Close()
	}
}
