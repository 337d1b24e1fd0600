// Command udpprobe measures a DNS server's latency over UDP at a low,
// fixed rate beside a load generator (dnsperf), with the reply's arrival
// time taken by the kernel (SO_TIMESTAMPNS) as it is delivered, not when
// the probe gets round to reading it. On a loopback test bed the reply is
// delivered in the server's sendmsg, so that time is when the server sent
// it: the figure is the server's (its socket's queue and its work), free of
// the client's own waits for a core. dnsperf's latencies (-v) include
// those: when dnsperf's core is near full (100 000 q/s on one core of this
// VM) its figures are mostly its own.
//
// It prints one line: the probe's latency percentiles by the kernel's
// receive time ("server") and by the time the probe read the reply
// ("client"), and the queries lost. Run it at real-time priority (chrt)
// so that the time between taking a query's send time and the send is not
// a wait for the core either.
//
//	chrt -f 30 taskset -c 0 go run ./bench/udpprobe -server 127.0.0.1:5310 -rate 1000 -duration 5s
package main

import (
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"slices"
	"sync"
	"time"
	"unsafe"

	"github.com/miekg/dns"
	"golang.org/x/sys/unix"
)

func main() {
	server := flag.String("server", "127.0.0.1:53", "the server's address and port")
	qname := flag.String("qname", "web.pool.test.", "the name queried")
	qtype := flag.String("qtype", "A", "the type queried")
	rate := flag.Int("rate", 1000, "queries per second, evenly spaced")
	duration := flag.Duration("duration", 5*time.Second, "how long to send")
	timeout := flag.Duration("timeout", 2*time.Second, "a query unanswered this long after the last send is lost")
	tag := flag.String("tag", "", "a label printed at the start of the line")
	csvOut := flag.Bool("csv", false, "print the figures as one CSV row: sent,lost,p50,p90,p99,p999,max (server, ms),p50,p99 (client, ms), and with -cpu-of: n,p50,p90,p99,p999,max (server CPU, ms)")
	cpuOf := flag.Int("cpu-of", 0, "the server's process ID: measure each query in its CPU time too")
	flag.Parse()
	r, err := probe(*server, *qname, *qtype, *rate, *duration, *timeout, *cpuOf)
	if err != nil {
		fmt.Fprintln(os.Stderr, "udpprobe:", err)
		os.Exit(1)
	}
	sp, cp, up := percentiles(r.server), percentiles(r.client), percentiles(r.cpu)
	if *csvOut {
		fmt.Printf("%d,%d,%.3f,%.3f,%.3f,%.3f,%.3f,%.3f,%.3f", r.sent, r.lost(), sp[0], sp[1], sp[2], sp[3], sp[4], cp[0], cp[2])
		if *cpuOf > 0 {
			fmt.Printf(",%d,%.3f,%.3f,%.3f,%.3f,%.3f", len(r.cpu), up[0], up[1], up[2], up[3], up[4])
		}
		fmt.Println()
		return
	}
	if *tag != "" {
		*tag += " "
	}
	fmt.Printf("%s%s %s at %d q/s for %v: sent %d, lost %d, bad %d; server %s; client %s",
		*tag, *server, *qtype, *rate, *duration, r.sent, r.lost(), r.bad, pct(sp), pct(cp))
	if *cpuOf > 0 {
		fmt.Printf("; server CPU (%d) %s", len(r.cpu), pct(up))
	}
	fmt.Println()
}

// result is what a probe measured: for each answered query, its latency
// by the kernel's receive time (server) and by the time the probe read
// the reply (client).
type result struct {
	sent, bad      int
	server, client []time.Duration
	cpu            []time.Duration // in the server's CPU time (-cpu-of)
}

func (r *result) lost() int { return r.sent - len(r.server) }

// A query's slot: its send time; the slot is its ID, so at most 65 536
// queries are in flight (32 s of queries at 2 000 q/s).
type slot struct {
	sent    time.Time // by the wall clock alone (wallNow)
	pending bool
	// The server's CPU clock at the send and at the reply's reading
	// (-cpu-of), and whether the probe was quick enough at each.
	cpu0, cpu1     time.Duration
	sentOK, readOK bool
}

// harvest adds s's time in the server's CPU to r, if it has one.
func (s *slot) harvest(r *result) {
	if s.sentOK && s.readOK {
		r.cpu = append(r.cpu, s.cpu1-s.cpu0)
	}
	s.sentOK, s.readOK = false, false
}

// maxProbeDelay is the longest the probe may take around a send or a
// read for the query to count in the server's CPU time.
const maxProbeDelay = 50 * time.Microsecond

// cpuClock reads the CPU clock of process pid (all its threads); false
// when it cannot.
func cpuClock(pid int) (time.Duration, bool) {
	if pid <= 0 {
		return 0, false
	}
	var ts unix.Timespec
	// clock_getcpuclockid(3): the process's CPUCLOCK_SCHED clock.
	id := int32(^uint32(pid)<<3) | 2
	if err := unix.ClockGettime(id, &ts); err != nil {
		return 0, false
	}
	return time.Duration(ts.Nano()), true
}

// probe sends qname/qtype (with EDNS, 1232 bytes) to server at rate q/s
// for duration, and waits for the replies until all are in or timeout
// after the last send.
func probe(server, qname, qtype string, rate int, duration, timeout time.Duration, cpuOf int) (*result, error) {
	t, ok := dns.StringToType[qtype]
	if !ok {
		return nil, fmt.Errorf("unknown query type %q", qtype)
	}
	if rate <= 0 || rate > 20000 {
		return nil, errors.New("-rate must be in 1..20000")
	}
	raddr, err := net.ResolveUDPAddr("udp", server)
	if err != nil {
		return nil, err
	}
	conn, err := net.DialUDP("udp", nil, raddr)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	rc, err := conn.SyscallConn()
	if err != nil {
		return nil, err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1)
	}); err != nil {
		return nil, err
	}
	if serr != nil {
		return nil, fmt.Errorf("SO_TIMESTAMPNS: %w", serr)
	}
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(qname), t)
	m.RecursionDesired = false
	m.SetEdns0(1232, false)
	q, err := m.Pack()
	if err != nil {
		return nil, err
	}

	var (
		mu    sync.Mutex
		slots [1 << 16]slot
		res   result
		// Queries pending, and whether the last is sent: the reader
		// stops as soon as none is pending after the last send.
		pending  int
		lastSent bool
	)
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 65535)
		oob := make([]byte, 128)
		for {
			n, oobn, _, _, err := conn.ReadMsgUDP(buf, oob)
			read := wallNow()
			c1, cok := cpuClock(cpuOf)
			if err != nil {
				return // the deadline after the last send, or closed
			}
			kts, ok := rxTime(oob[:oobn])
			mu.Lock()
			if n < 12 || buf[2]&0x80 == 0 || !ok {
				res.bad++ // not a DNS response, or no time stamp
			} else if s := &slots[binary.BigEndian.Uint16(buf[0:2])]; s.pending {
				s.pending = false
				pending--
				res.server = append(res.server, kts.Sub(s.sent))
				res.client = append(res.client, read.Sub(s.sent))
				s.cpu1, s.readOK = c1, cok && read.Sub(kts) <= maxProbeDelay
			}
			all := lastSent && pending == 0
			mu.Unlock()
			if all {
				return
			}
		}
	}()

	every := time.Second / time.Duration(rate)
	total := int(duration / every)
	start := time.Now()
	for i := 0; i < total; i++ {
		if d := time.Until(start.Add(time.Duration(i) * every)); d > 0 {
			time.Sleep(d)
		}
		binary.BigEndian.PutUint16(q[0:2], uint16(i))
		mu.Lock()
		// A slot still pending 65 536 queries later is lost, and taken.
		slots[uint16(i)].harvest(&res)
		if !slots[uint16(i)].pending {
			pending++
		}
		c0, cok := cpuClock(cpuOf)
		sent := wallNow()
		slots[uint16(i)] = slot{sent: sent, pending: true, cpu0: c0}
		res.sent++
		mu.Unlock()
		if _, err := conn.Write(q); err != nil {
			return nil, fmt.Errorf("sending: %w", err)
		}
		if cok && time.Since(sent) <= maxProbeDelay {
			mu.Lock()
			slots[uint16(i)].sentOK = true
			mu.Unlock()
		}
	}
	mu.Lock()
	lastSent = true
	wait := timeout
	if pending == 0 {
		wait = 0 // every reply is in: the read returns now
	}
	mu.Unlock()
	conn.SetReadDeadline(time.Now().Add(wait))
	<-done
	mu.Lock()
	defer mu.Unlock()
	for i := range slots {
		slots[i].harvest(&res)
	}
	return &res, nil
}

// wallNow is the time now by the wall clock alone. The kernel stamps a
// datagram by the wall clock (CLOCK_REALTIME), and the probe takes every
// time by that clock so that its latencies compare: Go's time.Now reads
// the wall clock and then the monotonic one, and Time.Sub uses the
// monotonic readings when both times have them. A thread descheduled
// between time.Now's two reads puts them apart by its wait, so a send
// time's wall reading could be tens of µs older than its monotonic one
// and the server latency (by the wall) come out above the client latency
// (by the monotonic clock). By one clock the kernel's stamp comes before
// the probe's read, always. The cost: a step of the wall clock during a
// run (not NTP's slewing) skews the figures of the queries across it.
func wallNow() time.Time { return time.Now().Round(0) }

// rxTime is the kernel's receive time from a datagram's control data
// (SCM_TIMESTAMPNS), by the wall clock.
func rxTime(oob []byte) (time.Time, bool) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return time.Time{}, false
	}
	for _, c := range msgs {
		if c.Header.Level == unix.SOL_SOCKET && c.Header.Type == unix.SCM_TIMESTAMPNS && len(c.Data) >= int(unsafe.Sizeof(unix.Timespec{})) {
			ts := (*unix.Timespec)(unsafe.Pointer(&c.Data[0]))
			return time.Unix(ts.Unix()), true
		}
	}
	return time.Time{}, false
}

// percentiles gives p50, p90, p99, p99.9 and the maximum of ds in ms
// (zeros for none).
func percentiles(ds []time.Duration) [5]float64 {
	var r [5]float64
	if len(ds) == 0 {
		return r
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	for k, p := range []float64{0.5, 0.9, 0.99, 0.999} {
		i := min(max(int(p*float64(len(s))), 1), len(s)) - 1
		r[k] = float64(s[i]) / 1e6
	}
	r[4] = float64(s[len(s)-1]) / 1e6
	return r
}

// pct formats percentiles' figures.
func pct(r [5]float64) string {
	return fmt.Sprintf("p50=%.3f p90=%.3f p99=%.3f p999=%.3f max=%.3f", r[0], r[1], r[2], r[3], r[4])
}
