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

// Relay is the delaying packet relay at the heart of a Net (the kernel
// here has no netem). Every packet one node sends to another is routed by
// the hub to a TUN device; the Relay reads it, holds it for the one-way
// delay between the two nodes' sites, and writes it back, and the hub
// routes it on. It carries everything between nodes (peering, probes,
// registrations' propagation), whatever the protocol, with no change of
// address, so that a probe's TCP connect or a peer's TLS session sees the
// delay and nothing else. Cut makes it drop the packets between groups of
// nodes: a partition that the endpoints cannot tell from a real one.
//
// The checker's own traffic (DNS questions, registrations, status
// requests) leaves from the hub itself and does not cross the Relay.
type Relay struct {
	f *os.File

	mu    sync.RWMutex
	where []placed          // which node and site each prefix is
	delay [][]time.Duration // by site index, both ways
	cut   map[[2]int]bool   // node index pairs (both orders) whose packets are dropped

	queues map[time.Duration]chan packet
	wg     sync.WaitGroup

	relayed, dropped, overflow atomic.Int64
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

// newRelay returns a relay over the TUN device f for sites sites, with
// delays delay[i][j] between site i and site j.
func newRelay(f *os.File, delay [][]time.Duration) *Relay {
	r := &Relay{f: f, delay: delay, cut: map[[2]int]bool{}, queues: map[time.Duration]chan packet{}}
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
func (r *Relay) place(p netip.Prefix, node, site int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.where = append(r.where, placed{p: p, node: node, site: site})
}

// locate returns the node and site of address a, or -1, -1.
func (r *Relay) locate(a netip.Addr) (node, site int) {
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
func (r *Relay) setCut(a, b int, on bool) {
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
func (r *Relay) read() {
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
func (r *Relay) route(b []byte) (time.Duration, bool) {
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
func (r *Relay) send(q chan packet) {
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
	}
}

// RelayStats counts the relay's packets.
type RelayStats struct {
	Relayed  int64 // written back after their delay
	Dropped  int64 // dropped by a cut, or refused by the kernel when written back
	Overflow int64 // dropped because queueLen packets of their delay were waiting
}

// Stats returns the relay's counts so far.
func (r *Relay) Stats() RelayStats {
	return RelayStats{Relayed: r.relayed.Load(), Dropped: r.dropped.Load(), Overflow: r.overflow.Load()}
}

// close stops the relay and removes its TUN device.
func (r *Relay) close() {
	r.f.Close()
	r.wg.Wait()
}
