// Command register measures TSIG-signed registrations per second through
// DNS UPDATE against a real poolnsd process: a real UDP socket on
// loopback, a real bbolt store with fsync, group commit.
//
// It starts the poolnsd binary (-poolnsd) on 127.0.0.1:5410 with a fresh
// data directory and a TSIG key, then runs -clients concurrent clients for
// -duration. Each client has its own UDP socket and registers its own
// elements (-pes of them, in turn: the first round creates them, later
// rounds refresh them), one signed UPDATE at a time (SRV + A + TXT, with the
// UPDATE-LEASE option), waiting for each reply. It prints the rate of
// acknowledged registrations, latency percentiles and, from poolnsd's stop
// line, how many store commits (fsyncs) they took.
//
//	go run ./bench/register -poolnsd bin/poolnsd -clients 64 -duration 10s
package main

import (
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
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
`

var secret = base64.StdEncoding.EncodeToString([]byte("bench-register-secret-32-bytes!!"))

func main() {
	bin := flag.String("poolnsd", "bin/poolnsd", "the poolnsd binary")
	addr := flag.String("listen", "127.0.0.1:5410", "DNS address for poolnsd (loopback)")
	clients := flag.Int("clients", 64, "concurrent clients")
	pes := flag.Int("pes", 100, "elements per client (registered in turn)")
	pools := flag.Int("pools", 1, "pools the elements spread over")
	duration := flag.Duration("duration", 10*time.Second, "measured run")
	warmup := flag.Duration("warmup", 2*time.Second, "run before measuring")
	flag.Parse()
	if err := run(*bin, *addr, *clients, *pes, *pools, *duration, *warmup); err != nil {
		fmt.Fprintln(os.Stderr, "register:", err)
		os.Exit(1)
	}
}

// wait returns the first log record of d after line from with message msg
// and the line after it; an error record before it is an error.
func wait(d *proctest.Proc, from int, msg string, limit time.Duration) (proctest.Rec, int, error) {
	r, next, err := d.Wait(from, limit, func(r proctest.Rec) bool { return r["msg"] == msg || r["level"] == "ERROR" })
	switch {
	case errors.Is(err, proctest.ErrExited):
		return nil, next, errors.New("poolnsd exited")
	case err != nil:
		return nil, next, fmt.Errorf("poolnsd did not log %q within %v", msg, limit)
	case r["msg"] != msg:
		return nil, next, fmt.Errorf("poolnsd: %v", r)
	}
	return r, next, nil
}

func run(bin, addr string, clients, pes, pools int, duration, warmup time.Duration) error {
	dir, err := os.MkdirTemp("", "bench-register-")
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
	cfg := fmt.Sprintf(`dns:
  listen: [%q]
http:
  listen: ""
zones: zones
zones_watch: false
data: data
log:
  format: json
tsig:
  - name: bench-key.
    algorithm: hmac-sha256
    secret: %q
registration:
  max_per_key: 0
  max_per_pool: 0
  rate: 1000000
  burst: 1000000
`, addr, secret)
	if err := os.WriteFile(filepath.Join(dir, "poolnsd.yaml"), []byte(cfg), 0o644); err != nil {
		return err
	}
	abs, err := filepath.Abs(bin)
	if err != nil {
		return err
	}
	cmd := exec.Command(abs, "serve")
	cmd.Dir = dir
	d, err := proctest.Start(cmd, nil)
	if err != nil {
		return err
	}
	defer d.Kill()
	_, logged, err := wait(d, 0, "ready", 15*time.Second)
	if err != nil {
		return err
	}

	var (
		measuring atomic.Bool
		stop      atomic.Bool
		ok, fail  atomic.Int64
		mu        sync.Mutex
		lat       []time.Duration
		wg        sync.WaitGroup
		firstErr  atomic.Value
	)
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			udp, err := net.Dial("udp", addr)
			if err != nil {
				firstErr.CompareAndSwap(nil, err)
				return
			}
			defer udp.Close()
			keys := map[string]string{"bench-key.": secret}
			var mine []time.Duration
			for i := 0; !stop.Load(); i++ {
				k := i % pes
				name := fmt.Sprintf("c%d-%d.p%d.bench.test.", c, k, (c*pes+k)%pools)
				m := new(dns.Msg)
				m.SetUpdate("bench.test.")
				srv := &dns.SRV{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeSRV, Class: dns.ClassINET, Ttl: 60},
					Port: uint16(1024 + k), Weight: 1, Target: name}
				a := &dns.A{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60},
					A: net.IPv4(10, byte(c), byte(k>>8), byte(k))}
				txt := &dns.TXT{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 60},
					Txt: []string{fmt.Sprintf("load=%d%%", i%100)}}
				m.Insert([]dns.RR{srv, a, txt})
				m.SetEdns0(1232, false)
				m.IsEdns0().Option = append(m.IsEdns0().Option, &dns.EDNS0_UL{Code: dns.EDNS0UL, Lease: 300})
				m.SetTsig("bench-key.", dns.HmacSHA256, 300, time.Now().Unix())
				// A dns.Conn per exchange over the client's socket: a Conn
				// chains TSIG MACs from one message to the next, as for a
				// zone transfer, which independent updates must not.
				conn := &dns.Conn{Conn: udp, TsigSecret: keys}
				t0 := time.Now()
				conn.SetDeadline(t0.Add(5 * time.Second))
				err := conn.WriteMsg(m)
				var r *dns.Msg
				if err == nil {
					r, err = conn.ReadMsg() // verifies the reply's signature
				}
				el := time.Since(t0)
				if err == nil && r.Rcode != dns.RcodeSuccess {
					err = fmt.Errorf("%s", dns.RcodeToString[r.Rcode])
				}
				if !measuring.Load() {
					if err != nil {
						firstErr.CompareAndSwap(nil, err)
					}
					continue
				}
				if err != nil {
					fail.Add(1)
					firstErr.CompareAndSwap(nil, err)
					continue
				}
				ok.Add(1)
				mine = append(mine, el)
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}(c)
	}
	time.Sleep(warmup)
	measuring.Store(true)
	begin := time.Now()
	time.Sleep(duration)
	measuring.Store(false)
	elapsed := time.Since(begin)
	stop.Store(true)
	wg.Wait()

	d.Cmd.Process.Signal(syscall.SIGTERM)
	stats, _, err := wait(d, logged, "registrations", 15*time.Second)
	if err != nil {
		return err
	}
	<-d.Done()

	slices.Sort(lat)
	pct := func(p float64) time.Duration {
		if len(lat) == 0 {
			return 0
		}
		return lat[min(len(lat)-1, int(p*float64(len(lat))))]
	}
	n := ok.Load()
	fmt.Printf("clients %d, elements %d (in %d pools), %v measured after %v warm-up\n", clients, clients*pes, pools, elapsed.Round(time.Millisecond), warmup)
	fmt.Printf("registrations acknowledged: %d (%.0f/s), failed: %d\n", n, float64(n)/elapsed.Seconds(), fail.Load())
	fmt.Printf("latency p50 %v  p90 %v  p99 %v  max %v\n", pct(0.5).Round(time.Microsecond), pct(0.9).Round(time.Microsecond),
		pct(0.99).Round(time.Microsecond), pct(1).Round(time.Microsecond))
	fmt.Printf("poolnsd registrar (whole run, warm-up included): %v\n", stats["stats"])
	if s, ok := stats["stats"].(string); ok {
		var req, batches, commits, maxBatch, elements int
		fmt.Sscanf(strings.ReplaceAll(s, "=", " "), "requests %d batches %d commits %d max_batch %d elements %d", &req, &batches, &commits, &maxBatch, &elements)
		if commits > 0 {
			fmt.Printf("requests per store commit (fsync): %.1f\n", float64(req)/float64(commits))
		}
	}
	if e := firstErr.Load(); e != nil {
		fmt.Printf("first error: %v\n", e)
	}

	return nil
}
