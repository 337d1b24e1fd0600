package enrptest

import (
	"container/heap"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/poolnsd/poolnsd/enrp/wire"
)

// Verdict is what a Filter decides for one message.
type Verdict uint8

// Verdicts.
const (
	Deliver Verdict = iota
	Drop
)

// Filter sees every message before the network's own rules and may drop
// it: to lose one particular message in a test.
type Filter func(from, to uint32, m *wire.Message) Verdict

// Network carries encoded messages between registrars by ID. Each message
// is delayed by Delay plus a uniform random part of Jitter (so that
// Jitter > 0 reorders messages), or dropped with probability Loss, or
// dropped when its link is cut.
type Network struct {
	clock *Clock
	rand  *rand.Rand

	// Delay is every message's transit time; Jitter adds up to this much
	// at random, reordering messages.
	Delay, Jitter time.Duration
	// Loss is the probability that a message is lost.
	Loss float64
	// Filter, if set, sees each message first.
	Filter Filter
	// LinkDelay adds delay to messages from one registrar to another
	// (a slow link or a slow registrar): LinkDelay[[2]uint32{from, to}].
	LinkDelay map[[2]uint32]time.Duration

	cut   map[[2]uint32]bool
	queue deliveries
	seq   uint64

	// Stats.
	Sent, Dropped, Bytes int
	// BytesByType counts the bytes sent by message type.
	BytesByType map[wire.Type]int
	// CountByType counts the messages sent by message type.
	CountByType map[wire.Type]int
}

type delivery struct {
	at       time.Time
	seq      uint64
	from, to uint32
	b        []byte
}

type deliveries []delivery

func (d deliveries) Len() int { return len(d) }
func (d deliveries) Less(i, j int) bool {
	if !d[i].at.Equal(d[j].at) {
		return d[i].at.Before(d[j].at)
	}
	return d[i].seq < d[j].seq
}
func (d deliveries) Swap(i, j int) { d[i], d[j] = d[j], d[i] }
func (d *deliveries) Push(x any)   { *d = append(*d, x.(delivery)) }
func (d *deliveries) Pop() any {
	old := *d
	x := old[len(old)-1]
	*d = old[:len(old)-1]
	return x
}

// NewNetwork returns a network on clock with random source r, delivering
// every message after 1 ms.
func NewNetwork(clock *Clock, r *rand.Rand) *Network {
	return &Network{clock: clock, rand: r, Delay: time.Millisecond, cut: map[[2]uint32]bool{},
		LinkDelay: map[[2]uint32]time.Duration{}, BytesByType: map[wire.Type]int{}, CountByType: map[wire.Type]int{}}
}

// Cut cuts the links between every registrar of a and every one of b, both
// ways.
func (n *Network) Cut(a, b []uint32) {
	for _, x := range a {
		for _, y := range b {
			n.cut[[2]uint32{x, y}] = true
			n.cut[[2]uint32{y, x}] = true
		}
	}
}

// Partition cuts the network into the given groups: links within a group
// work, links between groups do not.
func (n *Network) Partition(groups ...[]uint32) {
	for i := range groups {
		for j := i + 1; j < len(groups); j++ {
			n.Cut(groups[i], groups[j])
		}
	}
}

// Heal mends every cut link.
func (n *Network) Heal() { n.cut = map[[2]uint32]bool{} }

// Send encodes m and queues it for delivery (or drops it).
func (n *Network) Send(from, to uint32, m *wire.Message) error {
	b, err := m.Encode()
	if err != nil {
		return fmt.Errorf("enrptest: %08x→%08x %v: %v", from, to, m, err)
	}
	n.Sent++
	n.Bytes += len(b)
	n.BytesByType[m.Type] += len(b)
	n.CountByType[m.Type]++
	if n.Filter != nil && n.Filter(from, to, m) == Drop {
		n.Dropped++
		return nil
	}
	if n.cut[[2]uint32{from, to}] || (n.Loss > 0 && n.rand.Float64() < n.Loss) {
		n.Dropped++
		return nil
	}
	d := n.Delay + n.LinkDelay[[2]uint32{from, to}]
	if n.Jitter > 0 {
		d += time.Duration(n.rand.Int64N(int64(n.Jitter)))
	}
	n.seq++
	heap.Push(&n.queue, delivery{at: n.clock.Now().Add(d), seq: n.seq, from: from, to: to, b: b})
	return nil
}

// next returns when the next message is due, zero if none is queued.
func (n *Network) next() time.Time {
	if len(n.queue) == 0 {
		return time.Time{}
	}
	return n.queue[0].at
}

// pop removes and returns the next message due at or before now.
func (n *Network) pop(now time.Time) (delivery, bool) {
	if len(n.queue) == 0 || n.queue[0].at.After(now) {
		return delivery{}, false
	}
	return heap.Pop(&n.queue).(delivery), true
}

// requeue queues d again for delivery at t, after what is queued for t.
func (n *Network) requeue(d delivery, t time.Time) {
	n.seq++
	d.at, d.seq = t, n.seq
	heap.Push(&n.queue, d)
}

// InFlight returns how many messages are queued.
func (n *Network) InFlight() int { return len(n.queue) }
