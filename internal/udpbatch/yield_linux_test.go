//go:build linux

package udpbatch

import (
	"net"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// TestFullBatchYields: the system calls are raw, so a reader that keeps
// finding datagrams would hold its P; after a full batch, ReadBatch lets a
// goroutine waiting for the P run before it reads again.
func TestFullBatchYields(t *testing.T) {
	fullBatchYields(t, New)
}

// TestSchedulerWaitYields: a NewThread reader that waits through the
// scheduler (SetSchedulerWait: under a real-time policy, where it has no
// P of its own) yields after a full batch as New's does.
func TestSchedulerWaitYields(t *testing.T) {
	fullBatchYields(t, func(c *net.UDPConn, size int) (*Conn, error) {
		bc, err := NewThread(c, size)
		if err == nil {
			if !bc.Threaded() {
				t.Skip("no recvmmsg here: NewThread gave New's Conn")
			}
			bc.SetSchedulerWait(true)
		}
		return bc, err
	})
}

// fullBatchYields reads datagrams queued on a socket with a Conn that
// newConn makes, one P, and checks that a goroutine waiting for the P
// runs once the reader has yielded after full batches.
//
// The reader yields with runtime.Gosched, which puts it on the global run
// queue; the scheduler takes that queue first once in 61 schedules, so
// the reader may resume before the waiting goroutine at one yield (1 run
// in 55 failed when the goroutine was wanted at the first). The goroutine
// must have run within yields reads after full batches: a reader that
// does not yield never lets it run on the one P.
func fullBatchYields(t *testing.T, newConn func(*net.UDPConn, int) (*Conn, error)) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetReadBuffer(1 << 20)
	s, err := net.DialUDP("udp4", nil, c.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	const batch, total = 8, 64
	for i := 0; i < total; i++ {
		if _, err := s.Write([]byte("q")); err != nil {
			t.Fatal(err)
		}
	}
	bc, err := newConn(c, batch)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bc.Close() })
	ms := make([]Msg, batch)
	for i := range ms {
		ms[i].Buf = make([]byte, 64)
	}
	// With one P, the goroutine started here runs only when the reader
	// parks or yields.
	var ran atomic.Bool
	go ran.Store(true)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	const yields = 4
	fulls := 0 // full batches read before this read
	for got := 0; got < total; {
		for i := range ms {
			ms[i].Buf = ms[i].Buf[:cap(ms[i].Buf)]
		}
		n, err := bc.ReadBatch(ms)
		if err != nil {
			t.Fatalf("ReadBatch after %d datagrams: %v", got, err)
		}
		if fulls >= yields && !ran.Load() {
			t.Fatalf("a goroutine waiting for the P did not run in %d reads after full batches (%d datagrams read)", fulls, got+n)
		}
		if ran.Load() {
			return
		}
		if n == batch {
			fulls++
		}
		got += n
	}
	t.Skip("no full batch was read (the datagrams came in small groups): nothing shown")
}
