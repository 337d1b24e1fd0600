package udpbatch

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"testing"
	"time"
)

// newConns are the ways to make a Conn, each test's cases.
var newConns = []struct {
	name string
	new  func(*net.UDPConn, int) (*Conn, error)
}{{"poller", New}, {"thread", NewThread}}

// echo serves one batch loop on c until the test ends: every datagram is
// answered with "re:" and its content, to its source, from the address it
// was sent to.
func echo(t *testing.T, c *net.UDPConn, size int, newConn func(*net.UDPConn, int) (*Conn, error)) (*Conn, chan struct{}) {
	t.Helper()
	bc, err := newConn(c, size)
	if err != nil {
		t.Fatal(err)
	}
	rx := make([]Msg, size)
	tx := make([]Msg, size)
	for i := range rx {
		rx[i].Buf = make([]byte, 512)
		rx[i].OOB = make([]byte, 0, OOBSize)
		tx[i].Buf = make([]byte, 0, 512)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			for i := range rx {
				rx[i].Buf = rx[i].Buf[:cap(rx[i].Buf)]
			}
			n, err := bc.ReadBatch(rx)
			if err != nil {
				return
			}
			for i := 0; i < n; i++ {
				tx[i].Buf = append(append(tx[i].Buf[:0], "re:"...), rx[i].Buf...)
				tx[i].Addr = rx[i].Addr
				tx[i].OOB = ReplyOOB(rx[i].OOB)
			}
			if _, err := bc.WriteBatch(tx[:n]); err != nil {
				t.Errorf("WriteBatch: %v", err)
			}
		}
	}()
	t.Cleanup(func() { bc.Wake(); <-done; bc.Close() })
	return bc, done
}

// TestBatchEcho: datagrams from several clients are read in batches, their
// sources read without conversion, and the replies reach each client.
func TestBatchEcho(t *testing.T) {
	for _, network := range []struct{ net, addr string }{{"udp4", "127.0.0.1:0"}, {"udp6", "[::1]:0"}} {
		for _, nc := range newConns {
			t.Run(network.net+"/"+nc.name, func(t *testing.T) { testBatchEcho(t, network.net, network.addr, nc.new) })
		}
	}
}

func testBatchEcho(t *testing.T, network, addr string, newConn func(*net.UDPConn, int) (*Conn, error)) {
	c, err := net.ListenUDP(network, net.UDPAddrFromAddrPort(netip.MustParseAddrPort(addr)))
	if err != nil {
		t.Skipf("no %s loopback: %v", network, err)
	}
	laddr := c.LocalAddr().(*net.UDPAddr)
	bc, _ := echo(t, c, 8, newConn)
	const clients, each = 4, 50
	var conns []*net.UDPConn
	for i := 0; i < clients; i++ {
		cc, err := net.DialUDP(network, nil, laddr)
		if err != nil {
			t.Fatal(err)
		}
		defer cc.Close()
		conns = append(conns, cc)
	}
	// Queue many before reading replies, so that reads find batches.
	for j := 0; j < each; j++ {
		for i, cc := range conns {
			if _, err := fmt.Fprintf(cc, "%d/%d", i, j); err != nil {
				t.Fatal(err)
			}
		}
	}
	for i, cc := range conns {
		cc.SetReadDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, 512)
		for j := 0; j < each; j++ {
			n, err := cc.Read(buf)
			if err != nil {
				t.Fatalf("client %d reply %d: %v", i, j, err)
			}
			if want := fmt.Sprintf("re:%d/%d", i, j); string(buf[:n]) != want {
				t.Fatalf("client %d: %q, want %q", i, buf[:n], want)
			}
		}
	}
	// The echo loop counts a batch after sendmmsg returns, which
	// may be after the client read the last reply.
	st := bc.Stats()
	for deadline := time.Now().Add(5 * time.Second); st.WriteMsgs < clients*each && time.Now().Before(deadline); st = bc.Stats() {
		time.Sleep(time.Millisecond)
	}
	if st.ReadMsgs != clients*each || st.WriteMsgs != clients*each {
		t.Errorf("stats %+v, want %d datagrams each way", st, clients*each)
	}
	t.Logf("%d datagrams in %d reads and %d writes", st.ReadMsgs, st.ReadCalls, st.WriteCalls)
}

// TestAddrPort: the raw source address converts to what the client used.
func TestAddrPort(t *testing.T) {
	for _, s := range []string{"127.0.0.1:53", "[::1]:5300", "192.0.2.7:1"} {
		ap := netip.MustParseAddrPort(s)
		for _, v6 := range []bool{false, true} {
			a := AddrFrom(ap, v6)
			if got := a.AddrPort(); got != ap {
				t.Errorf("AddrFrom(%s, v6 %v).AddrPort() = %s", s, v6, got)
			}
		}
	}
	var zero Addr
	if zero.AddrPort().IsValid() {
		t.Errorf("the zero Addr is valid")
	}
}

// TestReplyFromDestination: a socket bound to the unspecified address
// answers from the address each datagram was sent to. The clients are
// connected sockets, which take replies from that address only.
func TestReplyFromDestination(t *testing.T) {
	for _, nc := range newConns {
		t.Run(nc.name, func(t *testing.T) { testReplyFromDestination(t, nc.new) })
	}
}

func testReplyFromDestination(t *testing.T, newConn func(*net.UDPConn, int) (*Conn, error)) {
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4zero})
	if err != nil {
		t.Fatal(err)
	}
	port := c.LocalAddr().(*net.UDPAddr).Port
	echo(t, c, 4, newConn)
	for _, dst := range []string{"127.0.0.1", "127.0.0.2", "127.0.0.3"} {
		cc, err := net.DialUDP("udp4", nil, &net.UDPAddr{IP: net.ParseIP(dst), Port: port})
		if err != nil {
			t.Fatal(err)
		}
		defer cc.Close()
		cc.SetReadDeadline(time.Now().Add(3 * time.Second))
		if _, err := cc.Write([]byte(dst)); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 64)
		n, err := cc.Read(buf)
		if err != nil {
			t.Fatalf("reply to a datagram sent to %s: %v (from another address?)", dst, err)
		}
		if !bytes.Equal(buf[:n], []byte("re:"+dst)) {
			t.Errorf("reply %q", buf[:n])
		}
	}
}

// TestCloseWakesRead: closing the socket ends a blocked ReadBatch.
func TestCloseWakesRead(t *testing.T) {
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	bc, err := New(c, 4)
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		ms := []Msg{{Buf: make([]byte, 64)}}
		_, err := bc.ReadBatch(ms)
		errc <- err
	}()
	c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	select {
	case err := <-errc:
		if err == nil {
			t.Fatal("ReadBatch returned no error at the deadline")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("ReadBatch still blocked 5 s after its deadline")
	}
	c.Close()
}

// TestReadBatchNow: a read that does not wait returns nothing when no
// datagram waits, and the datagrams that wait, with their sources, when
// some do.
func TestReadBatchNow(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("without recvmmsg ReadBatchNow reads nothing")
	}
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	bc, err := New(c, 4)
	if err != nil {
		t.Fatal(err)
	}
	rx := make([]Msg, 4)
	reset := func() {
		for i := range rx {
			rx[i].Buf = make([]byte, 512)
			rx[i].OOB = make([]byte, 0, OOBSize)
		}
	}
	reset()
	if n, err := bc.ReadBatchNow(rx); n != 0 || err != nil {
		t.Fatalf("nothing sent: %d datagrams, %v", n, err)
	}
	cl, err := net.DialUDP("udp4", nil, c.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for i := range 3 {
		if _, err := cl.Write([]byte{byte('a' + i)}); err != nil {
			t.Fatal(err)
		}
	}
	var got []byte
	for deadline := time.Now().Add(5 * time.Second); len(got) < 3 && time.Now().Before(deadline); {
		reset()
		n, err := bc.ReadBatchNow(rx)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range rx[:n] {
			got = append(got, m.Buf...)
			if m.Addr.AddrPort() != cl.LocalAddr().(*net.UDPAddr).AddrPort() {
				t.Errorf("source %v, want %v", m.Addr.AddrPort(), cl.LocalAddr())
			}
		}
	}
	if string(got) != "abc" {
		t.Errorf("read %q, want \"abc\"", got)
	}
	reset()
	if n, err := bc.ReadBatchNow(rx); n != 0 || err != nil {
		t.Errorf("all read: %d datagrams more, %v", n, err)
	}
}
