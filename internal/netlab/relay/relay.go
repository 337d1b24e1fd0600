package relay

import (
	"errors"
	"fmt"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// Engine is the relay's packet engine, run by netlab's lab process (see
// netlab.Relay): it reads packets from the TUN device, holds each for the delay
// between its sites (dropping those a cut forbids), and writes it back.
//
// It is one loop on one locked OS thread: ppoll(2) on the TUN device until
// a packet comes or the earliest held packet is due, read every packet
// that is ready, write every packet that is due, again. No goroutine
// hands a packet to another and no Go timer is involved, so that the
// relay's thread (at real-time priority) alone decides when a packet
// leaves; an earlier design, a reader goroutine feeding one sender
// goroutine per delay through channels and timers, spent half its CPU
// in the Go scheduler's wake-ups.
type Engine struct {
	fd   int    // the TUN device, non-blocking
	wake [2]int // a pipe: a byte written to wake[1] ends the loop
	done chan struct{}

	table atomic.Pointer[routes] // replaced whole by Place and SetCut

	mu   sync.Mutex // serializes Place, SetCut and Mark
	mark Stats      // the counts at the last Mark

	relayed, dropped, overflow atomic.Int64
	// late10 and late100 count the packets written back more than 10 ms
	// and more than 100 ms after they were due; maxLate is the latest
	// (ns), markLate the latest since the last Mark.
	late10, late100, maxLate, markLate atomic.Int64
}

// routes is what the loop reads per packet: immutable once stored.
type routes struct {
	where []placed          // which node and site each prefix is
	delay [][]time.Duration // by site index, both ways
	cut   map[[2]int]bool   // node index pairs (both orders) whose packets are dropped
}

// placed is a prefix of the network and where it is.
type placed struct {
	p          netip.Prefix
	node, site int
}

// packet is one IP packet held until due.
type packet struct {
	b   []byte
	due time.Time
}

// queueLen bounds the packets held at one delay: past it packets are
// dropped (counted in Stats.Overflow), as a full router queue would.
const queueLen = 8192

// bufSize is the size of the packet buffers the loop reuses; the TUN
// device's MTU is 1500, so no packet is larger.
const bufSize = 2048

// OpenTUN opens a new TUN device called name (IFF_TUN, no packet
// information, non-blocking) in the namespace of the calling thread.
func OpenTUN(name string) (int, error) {
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("relay: open /dev/net/tun: %v", err)
	}
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("relay: TUN name %q: %v", name, err)
	}
	ifr.SetUint16(unix.IFF_TUN | unix.IFF_NO_PI)
	if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("relay: TUNSETIFF %s: %v", name, err)
	}
	return fd, nil
}

// New starts an Engine over the TUN device fd (which it closes when
// it stops), with delays delay[i][j] between site i and site j.
func New(fd int, delay [][]time.Duration) (*Engine, error) {
	r := &Engine{fd: fd, done: make(chan struct{})}
	if err := unix.Pipe2(r.wake[:], unix.O_NONBLOCK|unix.O_CLOEXEC); err != nil {
		return nil, err
	}
	r.table.Store(&routes{delay: delay, cut: map[[2]int]bool{}})
	go r.loop()
	return r, nil
}

// update replaces the routing table with a changed copy.
func (r *Engine) update(change func(*routes)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	old := r.table.Load()
	t := &routes{where: append([]placed(nil), old.where...), delay: old.delay, cut: make(map[[2]int]bool, len(old.cut))}
	for k, v := range old.cut {
		t.cut[k] = v
	}
	change(t)
	r.table.Store(t)
}

// Place records that prefix p is node's, in site.
func (r *Engine) Place(p netip.Prefix, node, site int) {
	r.update(func(t *routes) { t.where = append(t.where, placed{p: p, node: node, site: site}) })
}

// SetCut drops (on) or lets through (off) the packets between nodes a and
// b, both ways.
func (r *Engine) SetCut(a, b int, on bool) {
	r.update(func(t *routes) {
		if on {
			t.cut[[2]int{a, b}], t.cut[[2]int{b, a}] = true, true
		} else {
			delete(t.cut, [2]int{a, b})
			delete(t.cut, [2]int{b, a})
		}
	})
}

// locate returns the node and site of address a, or -1, -1.
func (t *routes) locate(a netip.Addr) (node, site int) {
	best := -1
	for i, w := range t.where {
		if w.p.Contains(a) && (best < 0 || w.p.Bits() > t.where[best].p.Bits()) {
			best = i
		}
	}
	if best < 0 {
		return -1, -1
	}
	return t.where[best].node, t.where[best].site
}

// route returns the delay of an IPv4 packet and whether a cut drops it.
// Anything else (IPv6: the net has none) passes at once.
func (t *routes) route(b []byte) (time.Duration, bool) {
	if len(b) < 20 || b[0]>>4 != 4 {
		return 0, false
	}
	sn, ss := t.locate(netip.AddrFrom4([4]byte(b[12:16])))
	dn, ds := t.locate(netip.AddrFrom4([4]byte(b[16:20])))
	if sn < 0 || dn < 0 {
		return 0, false
	}
	if t.cut[[2]int{sn, dn}] {
		return 0, true
	}
	return t.delay[ss][ds], false
}

// fifo is the packets held at one delay, in the order they came (which
// is the order they are due).
type fifo struct {
	ps   []packet
	head int
}

func (q *fifo) len() int { return len(q.ps) - q.head }

func (q *fifo) push(p packet) {
	if q.head > 0 && q.head == len(q.ps) {
		q.ps, q.head = q.ps[:0], 0
	}
	q.ps = append(q.ps, p)
}

func (q *fifo) pop() packet {
	p := q.ps[q.head]
	q.ps[q.head] = packet{}
	q.head++
	return p
}

// early is how early a packet may leave: less than ppoll's wake-up cost.
const early = 50 * time.Microsecond

// loop is the engine: ppoll, read what is ready, write what is due.
func (r *Engine) loop() {
	runtime.LockOSThread()
	defer close(r.done)
	defer unix.Close(r.fd)
	queues := map[time.Duration]*fifo{}
	var free [][]byte
	fds := []unix.PollFd{{Fd: int32(r.fd), Events: unix.POLLIN}, {Fd: int32(r.wake[0]), Events: unix.POLLIN}}
	for {
		// Sleep until a packet comes or the earliest held one is due.
		var timeout *unix.Timespec
		var next time.Time
		for _, q := range queues {
			if q.len() > 0 && (next.IsZero() || q.ps[q.head].due.Before(next)) {
				next = q.ps[q.head].due
			}
		}
		if !next.IsZero() {
			ts := unix.NsecToTimespec(max(0, int64(time.Until(next))))
			timeout = &ts
		}
		fds[0].Revents, fds[1].Revents = 0, 0
		if _, err := unix.Ppoll(fds, timeout, nil); err != nil && !errors.Is(err, unix.EINTR) {
			return
		}
		if fds[1].Revents != 0 {
			return // closed
		}
		if fds[0].Revents&unix.POLLIN != 0 {
			t := r.table.Load()
			now := time.Now()
			for i := 0; i < 1024; i++ { // what is ready, within reason
				if len(free) == 0 {
					free = append(free, make([]byte, bufSize))
				}
				buf := free[len(free)-1]
				n, err := unix.Read(r.fd, buf)
				if err != nil {
					break // EAGAIN: nothing more now
				}
				d, drop := t.route(buf[:n])
				if drop {
					r.dropped.Add(1)
					continue
				}
				q := queues[d]
				if q == nil {
					q = &fifo{}
					queues[d] = q
				}
				if q.len() >= queueLen {
					r.overflow.Add(1)
					continue
				}
				free = free[:len(free)-1]
				q.push(packet{b: buf[:n], due: now.Add(d)})
			}
		}
		now := time.Now()
		for _, q := range queues {
			for q.len() > 0 && !q.ps[q.head].due.After(now.Add(early)) {
				p := q.pop()
				r.write(p, now)
				free = append(free, p.b[:bufSize])
			}
		}
	}
}

// write writes p back into the TUN device and counts it.
func (r *Engine) write(p packet, now time.Time) {
	if _, err := unix.Write(r.fd, p.b); err != nil {
		r.dropped.Add(1)
		return
	}
	r.relayed.Add(1)
	if late := now.Sub(p.due); late > 10*time.Millisecond {
		r.late10.Add(1)
		if late > 100*time.Millisecond {
			r.late100.Add(1)
		}
		for _, m := range []*atomic.Int64{&r.maxLate, &r.markLate} {
			for {
				v := m.Load()
				if int64(late) <= v || m.CompareAndSwap(v, int64(late)) {
					break
				}
			}
		}
	}
}

// Stats counts the relay's packets.
type Stats struct {
	Relayed  int64 // written back after their delay
	Dropped  int64 // dropped by a cut, or refused by the kernel when written back
	Overflow int64 // dropped because queueLen packets of their delay were waiting
	// Late10 and Late100 count the packets written back more than 10 ms
	// and more than 100 ms after they were due, MaxLate the latest: the
	// relay's own lateness (a busy machine), on top of the delays.
	Late10, Late100 int64
	MaxLate         time.Duration
	// Err is why the counts could not be had from the relay ("" if they
	// were).
	Err string `json:",omitempty"`
}

func (s Stats) String() string {
	if s.Err != "" {
		return "relay counts unknown: " + s.Err
	}
	return fmt.Sprintf("%d packets relayed, %d dropped, %d overflowed; late by >10 ms %d, >100 ms %d, at most %v",
		s.Relayed, s.Dropped, s.Overflow, s.Late10, s.Late100, s.MaxLate.Round(time.Millisecond))
}

// Mark returns the relay's counts since the previous Mark (or its start),
// with the latest packet of that span.
func (r *Engine) Mark() Stats {
	now := Stats{Relayed: r.relayed.Load(), Dropped: r.dropped.Load(), Overflow: r.overflow.Load(),
		Late10: r.late10.Load(), Late100: r.late100.Load(), MaxLate: time.Duration(r.markLate.Swap(0))}
	r.mu.Lock()
	prev := r.mark
	r.mark = now
	r.mu.Unlock()
	now.Relayed -= prev.Relayed
	now.Dropped -= prev.Dropped
	now.Overflow -= prev.Overflow
	now.Late10 -= prev.Late10
	now.Late100 -= prev.Late100
	return now
}

// Stats returns the relay's counts so far.
func (r *Engine) Stats() Stats {
	return Stats{Relayed: r.relayed.Load(), Dropped: r.dropped.Load(), Overflow: r.overflow.Load(),
		Late10: r.late10.Load(), Late100: r.late100.Load(), MaxLate: time.Duration(r.maxLate.Load())}
}

// Close stops the engine and closes the TUN device (which removes it).
func (r *Engine) Close() {
	unix.Write(r.wake[1], []byte{0})
	<-r.done
	unix.Close(r.wake[0])
	unix.Close(r.wake[1])
}
