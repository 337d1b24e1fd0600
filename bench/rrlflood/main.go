// Command rrlflood measures response rate limiting against a real poolnsd
// process: a flood from one /24 of loopback sources (127.1.2.1 to
// 127.1.2.N, real sockets bound to those addresses: loopback accepts any
// 127/8 source) at -flood q/s, and a legitimate client from another prefix
// (127.0.3.1) at -legit q/s whose latencies it records. The legitimate
// client speaks DNS Cookies as a real resolver does (RFC 7873): it learns a
// server cookie with its first query and sends it with every query after,
// which exempts it from the limit (-legit-cookie=false: a client without
// cookies, limited like any other). The legitimate client runs in a process
// of its own, which -legit-rt puts at real-time priority so that, on a
// machine of few cores, its latencies are the server's and not its own wait
// for a core. It prints, for the
// flood, the replies it got back (full, truncated) against what it sent;
// for the legitimate client, its answered share and latency percentiles;
// and the server's CPU time per flood query (from /proc), with the limiter
// on and, in a second run, off.
//
//	go run ./bench/rrlflood -poolnsd bin/poolnsd -flood 50000 -legit 5000 -duration 10s
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/miekg/dns"
	"github.com/poolnsd/poolnsd/internal/proctest"
)

const zone = `$ORIGIN bench.test.
$TTL 300
@   SOA ns1 hostmaster 1 3600 600 86400 5
@   NS  ns1
ns1 A   127.0.0.1
$POOL web answers=3
web PE 192.0.2.1:80
web PE 192.0.2.2:80
web PE 192.0.2.3:80
`

func main() {
	bin := flag.String("poolnsd", "bin/poolnsd", "the poolnsd binary")
	addr := flag.String("listen", "127.0.0.1:5430", "DNS address for poolnsd (loopback)")
	flood := flag.Int("flood", 50000, "flood queries per second, from one /24")
	sources := flag.Int("sources", 50, "flood source addresses (127.1.2.1 ...)")
	legit := flag.Int("legit", 5000, "legitimate queries per second, from 127.0.3.1")
	duration := flag.Duration("duration", 10*time.Second, "measured run")
	rate := flag.Int("rate", 20, "dns.rrl.responses_per_second")
	slip := flag.Int("slip", 2, "dns.rrl.slip")
	cpu := flag.String("cpu", "1", "CPU list for the server (taskset); empty: none")
	withCookie := flag.Bool("legit-cookie", true, "the legitimate client sends a valid server cookie")
	legitRT := flag.Int("legit-rt", 0, "run the legitimate client at this SCHED_FIFO priority (chrt; 0: normal)")
	child := flag.Bool("legit-child", false, "internal: be the legitimate client's process")
	flag.Parse()
	if *child {
		r, err := legitClient(netip.MustParseAddrPort(*addr), *legit, *duration, *withCookie)
		if err != nil {
			fmt.Fprintln(os.Stderr, "rrlflood:", err)
			os.Exit(1)
		}
		json.NewEncoder(os.Stdout).Encode(r)
		return
	}
	for _, on := range []bool{true, false} {
		if err := run(*bin, *addr, *flood, *sources, *legit, *duration, *rate, *slip, *cpu, *legitRT, on, *withCookie); err != nil {
			fmt.Fprintln(os.Stderr, "rrlflood:", err)
			os.Exit(1)
		}
	}
}

func run(bin, addr string, flood, sources, legit int, d time.Duration, rate, slip int, cpu string, legitRT int, on, withCookie bool) error {
	dir, err := os.MkdirTemp("", "rrlflood")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if err := os.MkdirAll(filepath.Join(dir, "zones"), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "zones", "bench.zone"), []byte(zone), 0o644); err != nil {
		return err
	}
	rps := 0
	if on {
		rps = rate
	}
	conf := fmt.Sprintf("dns:\n  listen: [%q]\n  udp_sockets: 1\n  rrl:\n    responses_per_second: %d\n    slip: %d\nhttp:\n  listen: \"\"\nzones: zones\ndata: data\nlog:\n  format: json\n", addr, rps, slip)
	if err := os.WriteFile(filepath.Join(dir, "poolnsd.yaml"), []byte(conf), 0o644); err != nil {
		return err
	}
	args := []string{"serve"}
	cmd := exec.Command(bin, args...)
	if cpu != "" {
		cmd = exec.Command("taskset", append([]string{"-c", cpu, bin}, args...)...)
	}
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOMAXPROCS=1")
	p, err := proctest.Start(cmd, nil)
	if err != nil {
		return err
	}
	defer p.Stop(syscall.SIGTERM, 10*time.Second)
	if _, _, err := p.Wait(0, 30*time.Second, proctest.MsgIs("ready")); err != nil {
		return fmt.Errorf("poolnsd not ready: %v\n%s", err, p.Tail(20))
	}
	server := netip.MustParseAddrPort(addr)
	q := new(dns.Msg)
	q.SetQuestion("web.bench.test.", dns.TypeA)
	query, _ := q.Pack()

	// The flood: one socket per source address, each sending its share.
	var sent, full, truncated atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var conns []*net.UDPConn
	for i := 1; i <= sources; i++ {
		c, err := net.DialUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 1, 2, byte(i))}, net.UDPAddrFromAddrPort(server))
		if err != nil {
			return err
		}
		conns = append(conns, c)
	}
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for _, c := range conns {
		wg.Add(1)
		go func(c *net.UDPConn) { // reader
			defer wg.Done()
			buf := make([]byte, 4096)
			for {
				c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
				n, err := c.Read(buf)
				if err != nil {
					select {
					case <-stop:
						return
					default:
						continue
					}
				}
				if n >= 12 && buf[2]&0x02 != 0 {
					truncated.Add(1)
				} else if n >= 12 {
					full.Add(1)
				}
			}
		}(c)
	}
	// Senders: a few goroutines, paced by ticks of 1 ms.
	const senders = 4
	per := flood / senders
	for s := 0; s < senders; s++ {
		wg.Add(1)
		go func(s int) {
			defer wg.Done()
			tick := time.NewTicker(time.Millisecond)
			defer tick.Stop()
			start, k := time.Now(), 0
			for {
				select {
				case <-stop:
					return
				case <-tick.C:
				}
				due := int(time.Since(start).Seconds() * float64(per))
				for ; k < due; k++ {
					c := conns[(k*senders+s)%len(conns)]
					if _, err := c.Write(query); err == nil {
						sent.Add(1)
					}
				}
			}
		}(s)
	}
	// The legitimate client: its own process (a resolver is not on the
	// flooder's machine), optionally at real-time priority so that what it
	// measures is the server's delay, not its wait for a core that the
	// flood generator holds (this machine has two).
	largs := []string{"-legit-child", "-listen", addr, "-legit", strconv.Itoa(legit),
		"-duration", (d + time.Second).String(), "-legit-cookie=" + strconv.FormatBool(withCookie)}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	lcmd := exec.Command(self, largs...)
	if legitRT > 0 {
		lcmd = exec.Command("chrt", append([]string{"-f", strconv.Itoa(legitRT), self}, largs...)...)
	}
	var lout strings.Builder
	lcmd.Stdout, lcmd.Stderr = &lout, os.Stderr
	if err := lcmd.Start(); err != nil {
		return err
	}
	lerr := make(chan error, 1)
	go func() { lerr <- lcmd.Wait() }()

	pid := cmd.Process.Pid  // taskset execs poolnsd in its own process
	time.Sleep(time.Second) // warm up
	t0, s0 := cpuTicks(pid), sent.Load()
	fu0, tr0 := full.Load(), truncated.Load()
	time.Sleep(d)
	t1 := cpuTicks(pid)
	fs, fu, tr := sent.Load()-s0, full.Load()-fu0, truncated.Load()-tr0
	if err := <-lerr; err != nil {
		close(stop)
		wg.Wait()
		return fmt.Errorf("legitimate client: %v", err)
	}
	close(stop)
	wg.Wait()
	var lr legitResult
	if err := json.Unmarshal([]byte(lout.String()), &lr); err != nil {
		return fmt.Errorf("legitimate client's result %q: %v", lout.String(), err)
	}
	secs := d.Seconds()
	cpuSecs := float64(t1-t0) / 100
	mode := "off"
	if on {
		mode = fmt.Sprintf("on (%d/s per /24, slip %d)", rate, slip)
	}
	fmt.Printf("rate limit %s, %v:\n", mode, d)
	fmt.Printf("  flood from 127.1.2.0/24 (%d sources): sent %.0f q/s; back %.1f full/s, %.1f truncated/s (%.2f %% of sent)\n",
		sources, float64(fs)/secs, float64(fu)/secs, float64(tr)/secs, 100*float64(fu+tr)/max(float64(fs), 1))
	ck := "without cookies"
	if withCookie {
		ck = "with a server cookie"
	}
	if legitRT > 0 {
		ck += fmt.Sprintf(", own process at SCHED_FIFO %d", legitRT)
	}
	ls, lg, lt := float64(lr.Sent), float64(lr.Answered), float64(lr.Other)
	fmt.Printf("  legitimate client 127.0.3.1 (%s): sent %.0f q/s, answered %.2f %%, truncated or error %.2f %%; latency p50 %v p99 %v p99.9 %v\n",
		ck, ls/lr.Seconds, 100*lg/max(ls, 1), 100*lt/max(ls, 1), lr.P50.Round(time.Microsecond), lr.P99.Round(time.Microsecond), lr.P999.Round(time.Microsecond))
	fmt.Printf("  server CPU %.1f %% of a core; %.2f µs per query received\n", 100*cpuSecs/secs, 1e6*cpuSecs/max(float64(fs)+ls/lr.Seconds*secs, 1))
	return nil
}

// legitResult is what the legitimate client's process reports, as JSON.
type legitResult struct {
	Seconds               float64
	Sent, Answered, Other int64
	P50, P99, P999        time.Duration
}

// legitClient sends legit q/s to server for d, after a warm-up second that
// it does not count, and reports latencies of the answers it got.
func legitClient(server netip.AddrPort, legit int, d time.Duration, withCookie bool) (legitResult, error) {
	q := new(dns.Msg)
	q.SetQuestion("web.bench.test.", dns.TypeA)
	query, _ := q.Pack()
	lc, err := net.DialUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 3, 1)}, net.UDPAddrFromAddrPort(server))
	if err != nil {
		return legitResult{}, err
	}
	defer lc.Close()
	lquery := query
	if withCookie {
		if lquery, err = cookieQuery(lc, q); err != nil {
			return legitResult{}, err
		}
	}
	var mu sync.Mutex
	sentAt := map[uint16]time.Time{}
	var lat []time.Duration
	var lsent, lgot, ltrunc atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		buf := make([]byte, 4096)
		for {
			lc.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
			n, err := lc.Read(buf)
			if err != nil {
				select {
				case <-stop:
					return
				default:
					continue
				}
			}
			now := time.Now()
			if n < 12 {
				continue
			}
			id := uint16(buf[0])<<8 | uint16(buf[1])
			if buf[2]&0x02 != 0 || buf[3]&0x0f != 0 {
				ltrunc.Add(1) // slipped, or an error (BADCOOKIE is in the OPT)
				continue
			}
			mu.Lock()
			if t, ok := sentAt[id]; ok {
				lat = append(lat, now.Sub(t))
				delete(sentAt, id)
				lgot.Add(1)
			}
			mu.Unlock()
		}
	}()
	go func() {
		defer wg.Done()
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		start, k := time.Now(), 0
		b := append([]byte(nil), lquery...)
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			due := int(time.Since(start).Seconds() * float64(legit))
			for ; k < due; k++ {
				id := uint16(k)
				b[0], b[1] = byte(id>>8), byte(id)
				mu.Lock()
				sentAt[id] = time.Now()
				mu.Unlock()
				if _, err := lc.Write(b); err == nil {
					lsent.Add(1)
				}
			}
		}
	}()

	time.Sleep(time.Second) // warm up
	ls0, lg0, lt0 := lsent.Load(), lgot.Load(), ltrunc.Load()
	mu.Lock()
	lat = lat[:0]
	mu.Unlock()
	time.Sleep(d - time.Second)
	close(stop)
	wg.Wait()
	r := legitResult{Seconds: (d - time.Second).Seconds(), Sent: lsent.Load() - ls0, Answered: lgot.Load() - lg0, Other: ltrunc.Load() - lt0}
	slices.Sort(lat)
	pct := func(p float64) time.Duration {
		if len(lat) == 0 {
			return 0
		}
		return lat[min(len(lat)-1, int(p*float64(len(lat))))]
	}
	r.P50, r.P99, r.P999 = pct(0.5), pct(0.99), pct(0.999)
	return r, nil
}

// cookieQuery returns q packed with a client cookie and the server cookie
// that the server gave c for it: one exchange, as a resolver starts.
func cookieQuery(c *net.UDPConn, q *dns.Msg) ([]byte, error) {
	const client = "0102030405060708"
	m := q.Copy()
	m.SetEdns0(1232, false)
	opt := m.IsEdns0()
	opt.Option = append(opt.Option, &dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: client})
	b, err := m.Pack()
	if err != nil {
		return nil, err
	}
	if _, err := c.Write(b); err != nil {
		return nil, err
	}
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	buf := make([]byte, 4096)
	n, err := c.Read(buf)
	if err != nil {
		return nil, fmt.Errorf("learning a server cookie: %v", err)
	}
	r := new(dns.Msg)
	if err := r.Unpack(buf[:n]); err != nil {
		return nil, err
	}
	var full string
	if o := r.IsEdns0(); o != nil {
		for _, e := range o.Option {
			if ck, ok := e.(*dns.EDNS0_COOKIE); ok {
				full = ck.Cookie
			}
		}
	}
	if len(full) <= len(client) || full[:len(client)] != client {
		return nil, fmt.Errorf("no server cookie in the reply (is dns.cookies on?):\n%v", r)
	}
	opt.Option[len(opt.Option)-1] = &dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: full}
	return m.Pack()
}

// cpuTicks is the process's user+system CPU time in clock ticks (1/100 s).
func cpuTicks(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+2:])
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return u + st
}
