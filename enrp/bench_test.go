package enrp

import (
	"fmt"
	"net/netip"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/poolnsd/poolnsd/enrp/wire"
	"github.com/poolnsd/poolnsd/handlespace"
)

func benchElement(i int) *handlespace.Element {
	return &handlespace.Element{ID: uint32(i), Label: handlespace.LabelOf(fmt.Sprintf("pe%d", i)), Addrs: handlespace.AddrsOf(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)})),
		Port: 8080, Weight: 1, Home: 1, Health: handlespace.HealthUp, Expires: handlespace.ExpiryOf(time.Now().Add(time.Hour))}
}

type benchClock struct{ t time.Time }

func (c *benchClock) Now() time.Time { return c.t }

type benchRand struct{}

func (benchRand) Float64() float64 { return 0.5 }

// handoffNodes returns a Node home of n registered elements (in pools of
// 1000) with two live peers, and a peer Node that knows them all: the two
// sides of a hand-off.
func handoffNodes(b *testing.B, n int) (*Node, *Node) {
	clock := &benchClock{time.Unix(1e9, 0)}
	mk := func(id uint32) *Node {
		nd, err := New(Config{ID: id, Clock: clock, Rand: benchRand{}})
		if err != nil {
			b.Fatal(err)
		}
		return nd
	}
	a, p := mk(1), mk(2)
	for _, id := range []uint32{2, 3} {
		a.Step(&wire.Message{Type: wire.TypePresence, Sender: id, Receiver: 1, Checksum: 0xffff})
	}
	for _, id := range []uint32{1, 3} {
		p.Step(&wire.Message{Type: wire.TypePresence, Sender: id, Receiver: 2, Checksum: 0xffff})
	}
	cs := make([]Change, n)
	for i := range cs {
		e := benchElement(i)
		e.Expires = handlespace.ExpiryOf(clock.t.Add(time.Hour))
		cs[i] = Change{Pool: fmt.Sprintf("p%d.pool.example.", i/1000), Policy: "rr", ID: e.ID, Elem: e}
	}
	a.Local(cs)
	// The peer has them from A's updates.
	r := a.Local(nil)
	_ = r
	for i := range cs {
		pe := wire.ToPE(cs[i].Elem, "rr", 0, clock.t)
		p.Step(&wire.Message{Type: wire.TypeHandleUpdate, Sender: 1, Receiver: 2, Action: wire.AddPE,
			Entries: []wire.Entry{{Handle: []byte(cs[i].Pool), Elements: []wire.PE{pe}}}})
	}
	return a, p
}

// BenchmarkLeave100k: a registrar home of 100 000 registrations builds its
// hand-off to two peers (pages of 128, encoded as the driver sends them),
// and one peer takes its share (decoded pages, the last one included).
func BenchmarkLeave100k(b *testing.B) {
	const n = 100000
	var cpu time.Duration
	for b.Loop() {
		b.StopTimer()
		a, p := handoffNodes(b, n)
		runtime.GC()
		b.StartTimer()
		c0 := cpuTime()
		r := a.Leave(nil)
		var toP []*wire.Message
		bytes := 0
		for _, env := range r.Msgs {
			raw, err := env.Msg.Encode()
			if err != nil {
				b.Fatal(err)
			}
			bytes += len(raw)
			if env.To == 2 {
				m, err := wire.Decode(raw)
				if err != nil {
					b.Fatal(err)
				}
				toP = append(toP, m)
			}
		}
		taken := 0
		for _, m := range toP {
			taken += len(p.Step(m).Ops)
		}
		cpu += cpuTime() - c0
		b.ReportMetric(float64(len(r.Msgs)), "pages")
		b.ReportMetric(float64(bytes)/1e6, "MB")
		if taken < n/3 {
			b.Fatalf("the peer took %d elements of %d", taken, n)
		}
	}
	b.ReportMetric(float64(cpu.Milliseconds())/float64(b.N), "cpu-ms/op")
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkLeaveBuild100k: the leaving side alone: Leave's pages for
// 100 000 registrations, encoded.
func BenchmarkLeaveBuild100k(b *testing.B) {
	const n = 100000
	var cpu time.Duration
	for b.Loop() {
		b.StopTimer()
		a, _ := handoffNodes(b, n)
		runtime.GC()
		b.StartTimer()
		c0 := cpuTime()
		r := a.Leave(nil)
		buf := make([]byte, 0, 64<<10)
		for _, env := range r.Msgs {
			var err error
			if buf, err = env.Msg.AppendEncode(buf[:0]); err != nil {
				b.Fatal(err)
			}
		}
		cpu += cpuTime() - c0
	}
	b.ReportMetric(float64(cpu.Milliseconds())/float64(b.N), "cpu-ms/op")
}
