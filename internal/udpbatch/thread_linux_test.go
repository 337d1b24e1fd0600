//go:build linux

package udpbatch

import (
	"errors"
	"net"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// waitingReader starts a NewThread reader on a fresh loopback socket and
// returns its Conn and the channel of ReadBatch's outcome: it reads until
// the first error.
func waitingReader(t *testing.T) (*Conn, netip.AddrPort, chan error) {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	addr := c.LocalAddr().(*net.UDPAddr).AddrPort()
	bc, err := NewThread(c, 4)
	if err != nil {
		t.Fatal(err)
	}
	if !bc.Threaded() {
		t.Skip("no recvmmsg here: NewThread gave New's Conn")
	}
	errc := make(chan error, 1)
	go func() {
		ms := []Msg{{Buf: make([]byte, 64)}}
		for {
			ms[0].Buf = ms[0].Buf[:cap(ms[0].Buf)]
			if _, err := bc.ReadBatch(ms); err != nil {
				errc <- err
				return
			}
		}
	}()
	t.Cleanup(func() { bc.Wake(); bc.Close() })
	return bc, addr, errc
}

// TestThreadWake: Wake ends a NewThread reader's wait with net.ErrClosed,
// and after Close a reply written off the loop finds the socket closed,
// as with New's Conn.
func TestThreadWake(t *testing.T) {
	bc, _, errc := waitingReader(t)
	time.Sleep(20 * time.Millisecond) // let it wait
	wakeEndsRead(t, bc, errc)
	ms := []Msg{{Buf: make([]byte, 64)}}
	if n, err := bc.ReadBatch(ms); n != 0 || !errors.Is(err, net.ErrClosed) {
		t.Errorf("ReadBatch after Wake: %d, %v; want 0, %v", n, err, net.ErrClosed)
	}
	if n, err := bc.ReadBatchNow(ms); n != 0 || !errors.Is(err, net.ErrClosed) {
		t.Errorf("ReadBatchNow after Wake: %d, %v; want 0, %v", n, err, net.ErrClosed)
	}
	bc.Close()
	if err := bc.WriteTo([]byte("late"), nil, netip.MustParseAddrPort("127.0.0.1:9")); !errors.Is(err, net.ErrClosed) {
		t.Errorf("WriteTo after Close: %v, want %v", err, net.ErrClosed)
	}
}

// TestThreadReaderLetsTheWorldStop: a NewThread reader waits in a raw
// system call holding its P; the collector's stops of the world (and the
// runtime's preemption after 10 ms "running") end the wait with a signal,
// so collections finish and the reader goes on reading.
func TestThreadReaderLetsTheWorldStop(t *testing.T) {
	// One P for the reader, one for the test, as dnsserve raises it.
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	bc, addr, errc := waitingReader(t)
	// A datagram read: the reader's next waits are raw (it has not been
	// idle), as when queries come.
	sendAndAwaitRead(t, bc, addr)
	before := bc.Stats().EmptyReads
	done := make(chan struct{})
	go func() {
		for range 5 {
			runtime.GC()
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("5 collections did not finish in 10 s beside a waiting reader")
	}
	if bc.Stats().EmptyReads == before {
		t.Errorf("the reader's wait was never ended during 5 collections (empty reads %d)", before)
	}
	sendAndAwaitRead(t, bc, addr)
	select {
	case err := <-errc:
		t.Fatalf("ReadBatch: %v", err)
	default:
	}
}

// TestThreadSocketLeavesThePoller: NewThread closes the net.UDPConn it was
// given (taking the socket out of the network poller) and keeps serving
// the socket through its own duplicate.
func TestThreadSocketLeavesThePoller(t *testing.T) {
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	la := c.LocalAddr().String()
	bc, err := NewThread(c, 4)
	if err != nil {
		t.Fatal(err)
	}
	defer bc.Close()
	if !bc.Threaded() {
		t.Skip("no recvmmsg here: NewThread gave New's Conn")
	}
	if err := c.Close(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("the given conn's Close: %v, want %v (closed already)", err, net.ErrClosed)
	}
	if got := bc.LocalAddr().String(); got != la {
		t.Errorf("LocalAddr %s, want %s", got, la)
	}
	cl, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(netip.MustParseAddrPort(la)))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if _, err := cl.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	ms := []Msg{{Buf: make([]byte, 64)}}
	n, err := bc.ReadBatch(ms)
	if err != nil || n != 1 || string(ms[0].Buf) != "ping" {
		t.Fatalf("ReadBatch: %d, %v, %q", n, err, ms[0].Buf)
	}
	if err := bc.WriteTo([]byte("pong"), nil, ms[0].Addr.AddrPort()); err != nil {
		t.Fatal(err)
	}
	cl.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 64)
	if n, err := cl.Read(buf); err != nil || string(buf[:n]) != "pong" {
		t.Errorf("reply: %q, %v", buf[:n], err)
	}
}

// TestThreadIdleReader: a NewThread reader that stays idle goes on to wait
// through the scheduler (no preemption signals, no receive timeout); it
// still reads the next datagram, lets collections run, and ends at Wake.
func TestThreadIdleReader(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	bc, addr, errc := waitingReader(t)
	// threadIdleWaits waits end within a preemption (10 ms) or the
	// receive timeout (50 ms) each.
	deadline := time.Now().Add(10 * time.Second)
	for bc.Stats().EmptyReads < threadIdleWaits {
		if time.Now().After(deadline) {
			t.Fatalf("%d empty reads in 10 s, want %d (the reader's waits are not ended)", bc.Stats().EmptyReads, threadIdleWaits)
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond)
	idle := bc.Stats().EmptyReads
	time.Sleep(200 * time.Millisecond)
	if n := bc.Stats().EmptyReads - idle; n > 0 {
		t.Errorf("%d waits ended in 200 ms of an idle reader, want none (it should wait through the scheduler)", n)
	}
	for range 3 {
		runtime.GC()
	}
	sendAndAwaitRead(t, bc, addr)
	time.Sleep(300 * time.Millisecond) // idle again
	wakeEndsRead(t, bc, errc)
}

// sendAndAwaitRead sends a datagram to addr and waits (5 s at most) until
// bc's reader has read one.
func sendAndAwaitRead(t *testing.T, bc *Conn, addr netip.AddrPort) {
	t.Helper()
	cl, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	before := bc.Stats().ReadMsgs
	if _, err := cl.Write([]byte("q")); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); bc.Stats().ReadMsgs == before; {
		if time.Now().After(deadline) {
			t.Fatal("the reader read nothing 5 s after a datagram was sent")
		}
		time.Sleep(time.Millisecond)
	}
}

// wakeEndsRead calls Wake and checks that the waiting reader's ReadBatch
// ends (5 s at most) with net.ErrClosed.
func wakeEndsRead(t *testing.T, bc *Conn, errc chan error) {
	t.Helper()
	bc.Wake()
	select {
	case err := <-errc:
		if !errors.Is(err, net.ErrClosed) {
			t.Errorf("ReadBatch after Wake: %v, want %v", err, net.ErrClosed)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("ReadBatch still waiting 5 s after Wake")
	}
}

// TestThreadSchedulerWait: with SetSchedulerWait a NewThread reader that
// has just read a datagram waits through the scheduler (no receive
// timeout, no wait ended by a signal or the timeout), where it would wait
// raw; turned off again, its waits after the next datagram are raw (each
// ended within the receive timeout).
func TestThreadSchedulerWait(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	bc, addr, errc := waitingReader(t)
	bc.SetSchedulerWait(true)
	sendAndAwaitRead(t, bc, addr)
	// The wait that began before the setting has ended (it read the
	// datagram); the ones since go through the scheduler.
	before := bc.Stats().EmptyReads
	time.Sleep(3 * threadIdle)
	if n := bc.Stats().EmptyReads - before; n > 0 {
		t.Errorf("%d waits ended in %v after a datagram with the scheduler wait on, want none", n, 3*threadIdle)
	}
	var tv *unix.Timeval
	var gerr error
	if err := bc.rc.Control(func(fd uintptr) {
		tv, gerr = unix.GetsockoptTimeval(int(fd), unix.SOL_SOCKET, unix.SO_RCVTIMEO)
	}); err != nil || gerr != nil {
		t.Fatal(err, gerr)
	}
	if tv.Sec != 0 || tv.Usec != 0 {
		t.Errorf("receive timeout %v while waiting through the scheduler, want none", tv)
	}
	bc.SetSchedulerWait(false)
	sendAndAwaitRead(t, bc, addr) // ends the wait through the scheduler
	before = bc.Stats().EmptyReads
	for deadline := time.Now().Add(5 * time.Second); bc.Stats().EmptyReads == before; {
		if time.Now().After(deadline) {
			t.Fatal("no raw wait ended in 5 s after the scheduler wait was turned off")
		}
		time.Sleep(time.Millisecond)
	}
	wakeEndsRead(t, bc, errc)
}
