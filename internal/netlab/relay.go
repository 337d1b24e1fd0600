package netlab

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// engine is the relay's packet engine, run by the relay process (see
// Relay): it reads packets from the TUN device, holds each for the delay
// between its sites (dropping those a cut forbids), and writes it back.
type engine struct {
	f *os.File

	mu    sync.RWMutex
	where []placed          // which node and site each prefix is
	delay [][]time.Duration // by site index, both ways
	cut   map[[2]int]bool   // node index pairs (both orders) whose packets are dropped

	queues map[time.Duration]chan packet
	wg     sync.WaitGroup

	relayed, dropped, overflow atomic.Int64
	// late counts the packets written back more than 10 ms and more
	// than 100 ms after they were due; maxLate is the latest (ns).
	late10, late100, maxLate atomic.Int64
	markLate                 atomic.Int64 // maxLate since the last Mark
	mark                     RelayStats   // the counts at the last Mark; guarded by mu
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

// openTUN opens a new TUN device called name (IFF_TUN, no packet
// information) in the namespace of the calling thread.
func openTUN(name string) (*os.File, error) {
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("netlab: open /dev/net/tun: %v", err)
	}
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("netlab: TUN name %q: %v", name, err)
	}
	ifr.SetUint16(unix.IFF_TUN | unix.IFF_NO_PI)
	if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("netlab: TUNSETIFF %s: %v", name, err)
	}
	// A non-blocking descriptor is read through the runtime's poller, so
	// that Close ends a Read that waits.
	return os.NewFile(uintptr(fd), name), nil
}

// newEngine returns an engine over the TUN device f, with delays
// delay[i][j] between site i and site j.
func newEngine(f *os.File, delay [][]time.Duration) *engine {
	r := &engine{f: f, delay: delay, cut: map[[2]int]bool{}, queues: map[time.Duration]chan packet{}}
	seen := map[time.Duration]bool{}
	for _, row := range delay {
		for _, d := range row {
			seen[d] = true
		}
	}
	seen[0] = true // for packets from or to no known node
	for d := range seen {
		q := make(chan packet, queueLen)
		r.queues[d] = q
		r.wg.Add(1)
		go r.send(q)
	}
	r.wg.Add(1)
	go r.read()
	return r
}

// place records that prefix p is node's, in site.
func (r *engine) place(p netip.Prefix, node, site int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.where = append(r.where, placed{p: p, node: node, site: site})
}

// locate returns the node and site of address a, or -1, -1.
func (r *engine) locate(a netip.Addr) (node, site int) {
	best := -1
	for i, w := range r.where {
		if w.p.Contains(a) && (best < 0 || w.p.Bits() > r.where[best].p.Bits()) {
			best = i
		}
	}
	if best < 0 {
		return -1, -1
	}
	return r.where[best].node, r.where[best].site
}

// setCut drops (on) or lets through (off) the packets between nodes a and
// b, both ways.
func (r *engine) setCut(a, b int, on bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if on {
		r.cut[[2]int{a, b}], r.cut[[2]int{b, a}] = true, true
	} else {
		delete(r.cut, [2]int{a, b})
		delete(r.cut, [2]int{b, a})
	}
}

// read takes packets from the TUN device and queues each at its delay.
func (r *engine) read() {
	defer r.wg.Done()
	defer func() {
		for _, q := range r.queues {
			close(q)
		}
	}()
	buf := make([]byte, 65536)
	for {
		n, err := r.f.Read(buf)
		if err != nil {
			return // closed
		}
		now := time.Now()
		d, drop := r.route(buf[:n])
		if drop {
			r.dropped.Add(1)
			continue
		}
		p := packet{b: append([]byte(nil), buf[:n]...), due: now.Add(d)}
		select {
		case r.queues[d] <- p:
		default:
			r.overflow.Add(1)
		}
	}
}

// route returns the delay of an IPv4 packet and whether a cut drops it.
// Anything else (IPv6: the net has none) passes at once.
func (r *engine) route(b []byte) (time.Duration, bool) {
	if len(b) < 20 || b[0]>>4 != 4 {
		return 0, false
	}
	src := netip.AddrFrom4([4]byte(b[12:16]))
	dst := netip.AddrFrom4([4]byte(b[16:20]))
	r.mu.RLock()
	defer r.mu.RUnlock()
	sn, ss := r.locate(src)
	dn, ds := r.locate(dst)
	if sn < 0 || dn < 0 {
		return 0, false
	}
	if r.cut[[2]int{sn, dn}] {
		return 0, true
	}
	return r.delay[ss][ds], false
}

// send writes the packets of one delay back into the TUN device when due.
// Packets of one delay are due in the order they came.
func (r *engine) send(q chan packet) {
	defer r.wg.Done()
	var t *time.Timer
	for p := range q {
		if wait := time.Until(p.due); wait > 50*time.Microsecond {
			if t == nil {
				t = time.NewTimer(wait)
			} else {
				t.Reset(wait)
			}
			<-t.C
		}
		if _, err := r.f.Write(p.b); err != nil {
			if errors.Is(err, os.ErrClosed) {
				continue // drain the queue; read closes it
			}
			r.dropped.Add(1)
			continue
		}
		r.relayed.Add(1)
		if late := time.Since(p.due); late > 10*time.Millisecond {
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
}

// RelayStats counts the relay's packets.
type RelayStats struct {
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

func (s RelayStats) String() string {
	if s.Err != "" {
		return "relay counts unknown: " + s.Err
	}
	return fmt.Sprintf("%d packets relayed, %d dropped, %d overflowed; late by >10 ms %d, >100 ms %d, at most %v",
		s.Relayed, s.Dropped, s.Overflow, s.Late10, s.Late100, s.MaxLate.Round(time.Millisecond))
}

// Mark returns the relay's counts since the previous Mark (or its start),
// with the latest packet of that span.
func (r *engine) Mark() RelayStats {
	now := RelayStats{Relayed: r.relayed.Load(), Dropped: r.dropped.Load(), Overflow: r.overflow.Load(),
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
func (r *engine) Stats() RelayStats {
	return RelayStats{Relayed: r.relayed.Load(), Dropped: r.dropped.Load(), Overflow: r.overflow.Load(),
		Late10: r.late10.Load(), Late100: r.late100.Load(), MaxLate: time.Duration(r.maxLate.Load())}
}

// close stops the relay and removes its TUN device.
func (r *engine) close() {
	r.f.Close()
	r.wg.Wait()
}
