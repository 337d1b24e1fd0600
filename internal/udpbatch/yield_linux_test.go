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
//
// It yields with runtime.Gosched, which puts the reader on the global run
// queue; the scheduler takes that queue first once in 61 schedules, so
// the reader may resume before the waiting goroutine at one yield (1 run
// in 55 failed, when the test wanted it at the first). The test
// wants the goroutine run within yields reads after full batches: a
// reader that does not yield never lets it run on the one P.
func TestFullBatchYields(t *testing.T) {
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
	bc, err := New(c, batch)
	if err != nil {
		t.Fatal(err)
	}
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
