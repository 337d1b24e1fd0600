package e2e

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/internal/proctest"
	"github.com/poolnsd/poolnsd/store"
)

// loadZone is the zone of the load tests: a pool of ten elements.
func loadZone() string {
	var b strings.Builder
	b.WriteString("$ORIGIN pool.example.\n$TTL 300\n@ SOA ns1 hostmaster 1 3600 600 86400 5\n@ NS ns1\nns1 A 192.0.2.53\n")
	b.WriteString("$POOL web policy=rr ttl=5 answers=3 service=_http._tcp\n")
	for i := 1; i <= 10; i++ {
		fmt.Fprintf(&b, "web PE 10.0.0.%d:8080\n", i)
	}
	return b.String()
}

// checker sends queries for web.pool.example. A over UDP and TCP as fast as
// the server answers and checks every reply: it must unpack, match the
// query's ID and question, be NOERROR and carry three A records.
type checker struct {
	addr string

	signalled atomic.Bool // set once SIGTERM is sent
	stop      atomic.Bool
	good      atomic.Int64 // good replies
	after     atomic.Int64 // good replies to queries sent after the signal
	bad       atomic.Int64 // malformed or wrong replies
	mu        sync.Mutex
	badWhy    []string
	wg        sync.WaitGroup
}

func (c *checker) fail(why string) {
	c.bad.Add(1)
	c.mu.Lock()
	if len(c.badWhy) < 10 {
		c.badWhy = append(c.badWhy, why)
	}
	c.mu.Unlock()
}

func (c *checker) check(q *dns.Msg, b []byte, sentAfter bool) {
	r := new(dns.Msg)
	if err := r.Unpack(b); err != nil {
		c.fail(fmt.Sprintf("reply does not unpack (%d bytes): %v", len(b), err))
		return
	}
	switch {
	case r.Id != q.Id:
		c.fail(fmt.Sprintf("reply ID %d to query %d", r.Id, q.Id))
	case len(r.Question) != 1 || r.Question[0] != q.Question[0]:
		c.fail(fmt.Sprintf("reply question %v to %v", r.Question, q.Question))
	case r.Rcode != dns.RcodeSuccess || len(r.Answer) != 3:
		c.fail(fmt.Sprintf("reply %s with %d answers", dns.RcodeToString[r.Rcode], len(r.Answer)))
	default:
		c.good.Add(1)
		if sentAfter {
			c.after.Add(1)
		}
	}
}

func (c *checker) udp() {
	defer c.wg.Done()
	conn, err := net.Dial("udp", c.addr)
	if err != nil {
		c.fail("dial udp: " + err.Error())
		return
	}
	defer conn.Close()
	buf := make([]byte, 4096)
	// late are the IDs of the queries whose reply did not come within the
	// read deadline: a reply to one of them that comes later is not a
	// wrong reply to the query then waiting (under load a reply can take
	// longer than the deadline), and is read past.
	late := map[uint16]bool{}
	for i := 0; !c.stop.Load() && i < 10_000_000; i++ {
		q := new(dns.Msg)
		q.SetQuestion("web.pool.example.", dns.TypeA)
		after := c.signalled.Load()
		b, _ := q.Pack()
		if _, err := conn.Write(b); err != nil {
			continue // ICMP unreachable from an earlier datagram: the server is gone
		}
		conn.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		for {
			n, err := conn.Read(buf)
			if err != nil {
				late[q.Id] = true // lost, or the server stopped: not a malformed reply
				break
			}
			if id := uint16(buf[0])<<8 | uint16(buf[1]); n >= 2 && id != q.Id && late[id] {
				delete(late, id)
				continue
			}
			c.check(q, buf[:n], after)
			break
		}
	}
}

func (c *checker) tcp() {
	defer c.wg.Done()
	for i := 0; !c.stop.Load() && i < 100000; i++ {
		conn, err := net.DialTimeout("tcp", c.addr, time.Second)
		if err != nil {
			if c.signalled.Load() {
				return
			}
			continue
		}
		co := &dns.Conn{Conn: conn}
		for j := 0; !c.stop.Load() && j < 1_000_000; j++ {
			q := new(dns.Msg)
			q.SetQuestion("web.pool.example.", dns.TypeA)
			after := c.signalled.Load()
			conn.SetDeadline(time.Now().Add(time.Second))
			if err := co.WriteMsg(q); err != nil {
				break
			}
			// Read the length-prefixed reply ourselves, so that a reply cut
			// short shows as one (io.ErrUnexpectedEOF after a length).
			var l [2]byte
			if _, err := io.ReadFull(conn, l[:]); err != nil {
				break // closed between replies: fine
			}
			b := make([]byte, int(l[0])<<8|int(l[1]))
			if _, err := io.ReadFull(conn, b); err != nil {
				c.fail(fmt.Sprintf("TCP reply cut short after its length (%d bytes): %v", len(b), err))
				break
			}
			c.check(q, b, after)
		}
		conn.Close()
	}
}

// TestSigtermUnderLoad: SIGTERM while dnsperf and a checking client load
// the server: no reply after the signal is malformed, the process exits 0
// within 5 s having finished what was in flight, and its store opens
// cleanly afterwards.
func TestSigtermUnderLoad(t *testing.T) {
	dnsperf := proctest.LookTool(t, "dnsperf", "dnsperf")
	dir := daemonDir(t, loadZone())
	p := startDaemon(t, dir)
	addr, rec := p.ready()
	registrar := rec.Str("registrar")
	_, port, _ := net.SplitHostPort(addr)

	qfile := writeFile(t, dir, "queries.txt", "web.pool.example. A\n_http._tcp.web.pool.example. SRV\nweb.pool.example. AAAA\n")
	// stdbuf: dnsperf's stdout to a pipe is block-buffered; the test waits
	// for its "Sending queries" line.
	perf := exec.Command(proctest.LookTool(t, "stdbuf", "coreutils"), "-oL", dnsperf, "-s", "127.0.0.1", "-p", port, "-d", qfile, "-l", "20", "-c", "4", "-Q", "20000", "-t", "1")
	out, err := perf.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	perf.Stderr = perf.Stdout
	if err := perf.Start(); err != nil {
		t.Fatal(err)
	}
	defer perf.Process.Kill()
	perfOut := make(chan string, 1)
	sending := make(chan struct{})
	go func() {
		var all strings.Builder
		sc := bufio.NewScanner(out)
		once := sync.Once{}
		for sc.Scan() {
			all.WriteString(sc.Text() + "\n")
			if strings.Contains(sc.Text(), "Sending queries") {
				once.Do(func() { close(sending) })
			}
		}
		perfOut <- all.String()
	}()

	c := &checker{addr: addr}
	for range 3 {
		c.wg.Add(1)
		go c.udp()
	}
	for range 2 {
		c.wg.Add(1)
		go c.tcp()
	}
	defer func() { c.stop.Store(true); c.wg.Wait() }()

	// Signal once dnsperf is sending and the checker has seen replies.
	select {
	case <-sending:
	case <-time.After(waitLimit):
		t.Fatal("dnsperf did not start sending")
	}
	deadline := time.Now().Add(waitLimit)
	for c.good.Load() < 20000 {
		if time.Now().After(deadline) {
			t.Fatalf("only %d good replies within %v (bad: %v)", c.good.Load(), waitLimit, c.badWhy)
		}
		time.Sleep(10 * time.Millisecond) // polls a counter that the load goroutines raise
	}
	before := c.good.Load()
	from := p.cursor()
	c.signalled.Store(true)
	sent := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	code := p.waitExit(10 * time.Second)
	took := time.Since(sent)
	c.stop.Store(true)
	c.wg.Wait()
	perf.Process.Signal(os.Interrupt)
	// The report first: Wait closes the pipe once dnsperf has exited, and
	// what the reader had not read yet of it would be lost.
	var report string
	select {
	case report = <-perfOut:
	case <-time.After(waitLimit):
		t.Fatal("dnsperf did not finish its report after SIGINT")
	}
	perf.Wait()

	if code != 0 {
		t.Errorf("exit code %d after SIGTERM, want 0", code)
	}
	if took > 5*time.Second {
		t.Errorf("exit %v after SIGTERM, want within 5 s", took)
	}
	p.waitLog(from, "stopping", msgIs("stopping"))
	p.waitLog(from, "stopped", msgIs("stopped"))
	if n := c.bad.Load(); n > 0 {
		t.Errorf("%d bad replies: %v", n, c.badWhy)
	}
	t.Logf("exit %v after SIGTERM; checker: %d good replies before the signal, %d to queries sent after it, 0 bad",
		took.Round(time.Millisecond), before, c.after.Load())
	completed := regexp.MustCompile(`Queries completed:\s+(\d+)`).FindStringSubmatch(report)
	if completed == nil {
		t.Fatalf("dnsperf report without a count:\n%s", report)
	}
	if n, _ := strconv.Atoi(completed[1]); n == 0 {
		t.Errorf("dnsperf completed no query:\n%s", report)
	}
	for _, bad := range []string{"short response", "malformed", "unable to parse", "failed to parse"} {
		if strings.Contains(strings.ToLower(report), bad) {
			t.Errorf("dnsperf reports %q:\n%s", bad, report)
		}
	}
	t.Logf("dnsperf: %s queries completed (the rest were sent after the server had gone)", completed[1])

	// The store opens cleanly, with the same registrar.
	st, err := store.Open(filepath.Join(dir, "data"))
	if err != nil {
		t.Fatalf("the store after SIGTERM: %v", err)
	}
	if got := handlespace.IDString(st.RegistrarID()); got != registrar {
		t.Errorf("registrar %s after the restart, want %s", got, registrar)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestNotifySocket: with $NOTIFY_SOCKET (as systemd's Type=notify sets it)
// the server says READY=1 once it serves, RELOADING=1 and READY=1 around a
// SIGHUP, and STOPPING=1 at SIGTERM.
func TestNotifySocket(t *testing.T) {
	dir := daemonDir(t, goodZone)
	sock := filepath.Join(t.TempDir(), "notify")
	ln, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	msgs := make(chan string, 16)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := ln.Read(buf)
			if err != nil {
				close(msgs)
				return
			}
			msgs <- string(buf[:n])
		}
	}()
	next := func(want string) {
		t.Helper()
		select {
		case m, ok := <-msgs:
			if !ok || !strings.HasPrefix(m, want) {
				t.Fatalf("notification %q, want it to start with %q", m, want)
			}
		case <-time.After(waitLimit):
			t.Fatalf("no notification %q within %v", want, waitLimit)
		}
	}
	p := startDaemonEnv(t, dir, []string{"NOTIFY_SOCKET=" + sock})
	p.ready()
	next("READY=1\nSTATUS=serving")
	p.cmd.Process.Signal(syscall.SIGHUP)
	next("RELOADING=1\nMONOTONIC_USEC=")
	next("READY=1")
	p.cmd.Process.Signal(syscall.SIGTERM)
	next("STOPPING=1")
	if code := p.waitExit(10 * time.Second); code != 0 {
		t.Errorf("exit code %d, want 0", code)
	}
}

// TestSystemdUnit: contrib/poolnsd.service passes systemd-analyze verify
// (with the built binary in its command lines), has the hardening it
// promises, and systemd-analyze security rates its exposure 2.0 or lower.
func TestSystemdUnit(t *testing.T) {
	sa := proctest.LookTool(t, "systemd-analyze", "systemd")
	unit, err := os.ReadFile("../../contrib/poolnsd.service")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"Type=notify", "DynamicUser=yes", "AmbientCapabilities=CAP_NET_BIND_SERVICE",
		"CapabilityBoundingSet=CAP_NET_BIND_SERVICE", "ProtectSystem=strict", "StateDirectory=poolnsd",
		"NoNewPrivileges=yes", "ExecReload=/bin/kill -HUP $MAINPID", "SystemCallFilter=@system-service",
	} {
		if !strings.Contains(string(unit), "\n"+want+"\n") {
			t.Errorf("the unit lacks %s", want)
		}
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "poolnsd.service")
	if err := os.WriteFile(path, []byte(strings.ReplaceAll(string(unit), "/usr/local/bin/poolnsd", binary)), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(sa, "verify", path).CombinedOutput(); err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
	out, err := exec.Command(sa, "security", "--offline=yes", "--threshold=20", path).CombinedOutput()
	if err != nil {
		t.Errorf("systemd-analyze security: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`Overall exposure level for poolnsd.service: ([0-9.]+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("systemd-analyze security printed no exposure level:\n%s", out)
	}
	t.Logf("systemd-analyze security: exposure %s", m[1])

	// The command lines of the unit are valid poolnsd command lines: check
	// its ExecStartPre (with a zones directory of the test's) passes.
	zones := filepath.Join(dir, "zones")
	writeFile(t, zones, "pool.example.zone", goodZone)
	if _, stderr, code := runPoolnsd(t, dir, "check", "--zones", zones); code != 0 {
		t.Errorf("poolnsd check --zones: exit %d: %s", code, stderr)
	}
}

// TestSighupLiveConfig: SIGHUP applies log.level and log.queries to the
// running server, says which other changed keys wait for a restart, and
// keeps the running configuration when the file has an error.
func TestSighupLiveConfig(t *testing.T) {
	dir := daemonDir(t, goodZone)
	cfgFile := filepath.Join(dir, "poolnsd.yaml")
	base, err := os.ReadFile(cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	p := startDaemon(t, dir)
	addr, _ := p.ready()
	from := p.cursor()
	query(t, addr, "web.pool.example.", dns.TypeA)
	// The query log is off: no query line before the next marker.
	p.cmd.Process.Signal(syscall.SIGHUP)
	_, after := p.waitLog(from, "the end of the reload", msgIs("configuration reloaded; nothing changed"))
	for _, r := range p.Records(from, after) {
		if r.Str("msg") == "query" {
			t.Errorf("a query line with the query log off: %v", r)
		}
	}

	// Turn the query log on, the level up to warn... and change a key that
	// needs a restart.
	cfg := strings.Replace(string(base), "  level: debug", "  level: info\n  queries: true", 1)
	cfg = strings.Replace(cfg, "  udp_sockets: 2", "  udp_sockets: 2\n  udp_size: 4096", 1)
	writeAtomic(t, dir, "poolnsd.yaml", cfg)
	r := p.hup("configuration reloaded", msgIs("configuration reloaded"))
	if got := fmt.Sprint(r["applied"]); got != "[log.level log.queries]" {
		t.Errorf("applied %s, want [log.level log.queries]", got)
	}
	r, _ = p.waitLog(from, "restart warning", func(r logRec) bool { return strings.Contains(r.Str("msg"), "only at a restart") })
	if got := fmt.Sprint(r["keys"]); got != "[dns.udp_size]" {
		t.Errorf("restart keys %s, want [dns.udp_size]", got)
	}
	from = p.cursor()
	query(t, addr, "nx.pool.example.", dns.TypeMX)
	r, _ = p.waitLog(from, "a query line", msgIs("query"))
	if r.Str("qname") != "nx.pool.example." || r.Str("qtype") != "MX" || r.Str("rcode") != "NXDOMAIN" || r.Str("transport") != "udp" {
		t.Errorf("query line %v", r)
	}

	// A broken file: nothing changes, the error names the file.
	writeAtomic(t, dir, "poolnsd.yaml", cfg+"bogus_key: 1\n")
	r = p.hup("not reloaded", msgIs("configuration not reloaded; keeping the running one"))
	if !strings.Contains(r.Str("err"), "bogus_key") {
		t.Errorf("error %q does not name the key", r.Str("err"))
	}
	from = p.cursor()
	query(t, addr, "web.pool.example.", dns.TypeA)
	p.waitLog(from, "a query line after the broken reload", msgIs("query"))
	p.cmd.Process.Signal(syscall.SIGTERM)
	if code := p.waitExit(10 * time.Second); code != 0 {
		t.Errorf("exit %d", code)
	}
}

// writeAtomic replaces dir/name with content in one rename, as editors and
// configuration tools do, so that a reload never reads half a file.
func writeAtomic(t *testing.T, dir, name, content string) {
	t.Helper()
	tmp := writeFile(t, dir, name+".tmp", content)
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		t.Fatal(err)
	}
}
