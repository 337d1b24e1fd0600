package e2e

import (
	"context"
	"encoding/base64"
	"fmt"
	"net"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/poolnsd/poolnsd/internal/proctest"
)

// Registration as users do it: the real nsupdate and dig against the real
// binary, a crash with kill -9, leases that run out.

// regSecret is the test key's secret (32 bytes, base64).
var regSecret = base64.StdEncoding.EncodeToString([]byte("poolnsd-test-key-0123456789abcde"))

const regToken = "test-token"

// regConfig is the YAML of a TSIG key pe-key. and the given registration
// settings.
func regConfig(registration ...string) []string {
	lines := []string{
		`tsig:`,
		`  - name: pe-key.`,
		`    algorithm: hmac-sha256`,
		`    secret: "` + regSecret + `"`,
	}
	if len(registration) > 0 {
		lines = append(lines, "registration:")
		for _, l := range registration {
			lines = append(lines, "  "+l)
		}
	}
	return lines
}

// keyFile writes a BIND key file for nsupdate -k.
func keyFile(t *testing.T, dir, name, secret string) string {
	return writeFile(t, dir, name+".key", fmt.Sprintf("key %q {\n\talgorithm hmac-sha256;\n\tsecret %q;\n};\n", "pe-key.", secret))
}

// nsupdate runs nsupdate -v (over TCP) with the script against the DNS
// address; key "" sends it unsigned.
func nsupdate(t *testing.T, addr, key string, script ...string) (string, error) {
	t.Helper()
	return nsupdateOver(t, true, addr, key, script...)
}

// nsupdateOver runs nsupdate over TCP (-v) or UDP.
func nsupdateOver(t *testing.T, tcp bool, addr, key string, script ...string) (string, error) {
	t.Helper()
	host, port, _ := net.SplitHostPort(addr)
	in := fmt.Sprintf("server %s %s\nzone pool.example.\n%s\nsend\n", host, port, strings.Join(script, "\n"))
	args := []string{"-t", proctest.ToolWait}
	if tcp {
		args = append(args, "-v")
	}
	if key != "" {
		args = append(args, "-k", key)
	}
	ctx, cancel := context.WithTimeout(context.Background(), proctest.ToolLimit)
	defer cancel()
	cmd := exec.CommandContext(ctx, proctest.LookTool(t, "nsupdate", "bind9-dnsutils"), args...)
	cmd.Stdin = strings.NewReader(in)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// dig runs dig +short (or with other options) and returns its output lines,
// sorted.
func dig(t *testing.T, addr string, args ...string) []string {
	t.Helper()
	host, port, _ := net.SplitHostPort(addr)
	ctx, cancel := context.WithTimeout(context.Background(), proctest.ToolLimit)
	defer cancel()
	cmd := exec.CommandContext(ctx, proctest.LookTool(t, "dig", "bind9-dnsutils"),
		append([]string{"@" + host, "-p", port, "+norecurse", proctest.ToolTime, "+tries=1"}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("dig %v: %v\n%s", args, err, out)
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if l != "" {
			lines = append(lines, l)
		}
	}
	slices.Sort(lines)
	return lines
}

// digStatus returns the status dig reports.
func digStatus(t *testing.T, addr string, args ...string) string {
	t.Helper()
	for _, l := range dig(t, addr, args...) {
		if i := strings.Index(l, "status: "); i >= 0 {
			s := l[i+len("status: "):]
			return s[:strings.IndexByte(s, ',')]
		}
	}
	t.Fatalf("dig %v: no status line", args)
	return ""
}

func registeredLine(name string, created bool) func(logRec) bool {
	return func(r logRec) bool {
		return r.Str("msg") == "registered" && r.Str("name") == name && r["created"] == created
	}
}

// TestNsupdate registers, refreshes and deletes an element with the real
// nsupdate (over TCP, -v; the refresh once more over UDP) and sees each
// change with the real dig; unsigned and wrongly signed updates are
// refused and change nothing, over TCP and UDP.
func TestNsupdate(t *testing.T) {
	t.Parallel()
	proctest.LookTool(t, "nsupdate", "bind9-dnsutils")
	dir := daemonDir(t, goodZone, regConfig()...)
	key := keyFile(t, dir, "pe-key", regSecret)
	badKey := keyFile(t, dir, "bad-key", base64.StdEncoding.EncodeToString([]byte("not the secret, but 32 bytes....")))
	p := startDaemon(t, dir)
	addr, _ := p.ready()
	srv := func(w int) string { return fmt.Sprintf("0 %d 8080 pe1.dyn.pool.example.", w) }
	add := func(weight int) []string {
		return []string{
			fmt.Sprintf("update add pe1.dyn.pool.example. 60 SRV 0 %d 8080 pe1.dyn.pool.example.", weight),
			"update add pe1.dyn.pool.example. 60 A 192.0.2.77",
			`update add pe1.dyn.pool.example. 60 TXT "policy=wrr"`,
		}
	}

	from := p.cursor()
	if out, err := nsupdate(t, addr, key, add(5)...); err != nil {
		t.Fatalf("nsupdate register: %v\n%s", err, out)
	}
	p.waitLog(from, "the registration", registeredLine("pe1", true))
	if got := dig(t, addr, "+short", "dyn.pool.example", "SRV"); !slices.Equal(got, []string{srv(5)}) {
		t.Fatalf("dig SRV after the registration: %q", got)
	}
	if got := dig(t, addr, "+short", "pe1.dyn.pool.example", "A"); !slices.Equal(got, []string{"192.0.2.77"}) {
		t.Fatalf("dig A of the element: %q", got)
	}

	// The same update again refreshes it; here with another weight.
	from = p.cursor()
	if out, err := nsupdate(t, addr, key, add(9)...); err != nil {
		t.Fatalf("nsupdate refresh: %v\n%s", err, out)
	}
	p.waitLog(from, "the refresh", registeredLine("pe1", false))
	if got := dig(t, addr, "+short", "dyn.pool.example", "SRV"); !slices.Equal(got, []string{srv(9)}) {
		t.Fatalf("dig SRV after the refresh: %q", got)
	}
	from = p.cursor()
	if out, err := nsupdateOver(t, false, addr, key, add(9)...); err != nil {
		t.Fatalf("nsupdate refresh over UDP: %v\n%s", err, out)
	}
	p.waitLog(from, "the refresh over UDP", registeredLine("pe1", false))

	// Unsigned, and signed with the wrong secret: refused, nothing changes.
	for _, c := range []struct {
		name, key, want string
		tcp             bool
	}{
		{"unsigned", "", "update failed: REFUSED", true},
		{"wrong secret", badKey, "NOTAUTH(BADSIG)", true},
		{"unsigned over UDP", "", "update failed: REFUSED", false},
		{"wrong secret over UDP", badKey, "NOTAUTH(BADSIG)", false},
	} {
		out, err := nsupdateOver(t, c.tcp, addr, c.key, append(add(1), "update delete pe1.dyn.pool.example. A", "update add pe1.dyn.pool.example. 60 A 192.0.2.66")...)
		if err == nil || !strings.Contains(out, c.want) {
			t.Errorf("%s nsupdate: %v, output lacks %q:\n%s", c.name, err, c.want, out)
		}
		if got := dig(t, addr, "+short", "dyn.pool.example", "SRV"); !slices.Equal(got, []string{srv(9)}) {
			t.Errorf("dig SRV after the %s update: %q", c.name, got)
		}
		if got := dig(t, addr, "+short", "pe1.dyn.pool.example", "A"); !slices.Equal(got, []string{"192.0.2.77"}) {
			t.Errorf("dig A after the %s update: %q", c.name, got)
		}
	}

	// Delete: the element, and with it the pool, is gone.
	if out, err := nsupdate(t, addr, key, "update delete pe1.dyn.pool.example."); err != nil {
		t.Fatalf("nsupdate delete: %v\n%s", err, out)
	}
	if st := digStatus(t, addr, "dyn.pool.example", "SRV"); st != "NXDOMAIN" {
		t.Errorf("dig after the delete: %s, want NXDOMAIN", st)
	}
}

// TestLeaseEndToEnd: a registration with a 5 s lease (the SRV TTL) is
// answered, then expires and leaves the answers and the store.
func TestLeaseEndToEnd(t *testing.T) {
	t.Parallel()
	proctest.LookTool(t, "nsupdate", "bind9-dnsutils")
	dir := daemonDir(t, goodZone, regConfig()...)
	key := keyFile(t, dir, "pe-key", regSecret)
	p := startDaemon(t, dir)
	addr, _ := p.ready()
	from := p.cursor()
	if out, err := nsupdate(t, addr, key,
		"update add short.web.pool.example. 5 SRV 0 0 9000 short.web.pool.example.",
		"update add short.web.pool.example. 5 A 192.0.2.55"); err != nil {
		t.Fatalf("nsupdate: %v\n%s", err, out)
	}
	reg, _ := p.waitLog(from, "the registration", registeredLine("short", true))
	if reg.Str("lease") != "5s" {
		t.Errorf("lease %q, want 5s", reg.Str("lease"))
	}
	if got := dig(t, addr, "+short", "short.web.pool.example", "A"); !slices.Equal(got, []string{"192.0.2.55"}) {
		t.Fatalf("dig A of the element: %q", got)
	}
	exp, _ := p.waitLog(from, "the expiry", func(r logRec) bool {
		return r.Str("msg") == "registration expired" && r.Str("name") == "short"
	})
	t1, _ := time.Parse(time.RFC3339Nano, reg.Str("time"))
	t2, _ := time.Parse(time.RFC3339Nano, exp.Str("time"))
	d := t2.Sub(t1)
	t.Logf("expired %v after the registration (lease 5 s)", d)
	if d < 5*time.Second || d > 8*time.Second {
		t.Errorf("expired %v after the registration, want 5 s (+ up to the 100 ms slot and the 100 ms sweep, with room for a loaded machine)", d)
	}
	if st := digStatus(t, addr, "short.web.pool.example", "A"); st != "NXDOMAIN" {
		t.Errorf("dig A after the expiry: %s, want NXDOMAIN", st)
	}
	got := dig(t, addr, "+short", "web.pool.example", "A")
	if slices.Contains(got, "192.0.2.55") {
		t.Errorf("the pool still answers the expired element: %q", got)
	}
}

// register sends one signed registration of label in pool reg with the
// UPDATE-LEASE lease and reports whether it was acknowledged.
func register(addr, label string, i int, lease uint32) error {
	name := label + ".reg.pool.example."
	m := new(dns.Msg)
	m.SetUpdate("pool.example.")
	srv, _ := dns.NewRR(fmt.Sprintf("%s 60 IN SRV 0 0 %d %s", name, 1000+i, name))
	a, _ := dns.NewRR(fmt.Sprintf("%s 60 IN A 10.%d.%d.%d", name, i>>16&255, i>>8&255, i&255))
	m.Insert([]dns.RR{srv, a})
	m.SetEdns0(1232, false)
	m.IsEdns0().Option = append(m.IsEdns0().Option, &dns.EDNS0_UL{Code: dns.EDNS0UL, Lease: lease})
	m.SetTsig("pe-key.", dns.HmacSHA256, 300, time.Now().Unix())
	c := &dns.Client{Net: "udp", Timeout: 5 * time.Second, TsigSecret: map[string]string{"pe-key.": regSecret}}
	r, _, err := c.Exchange(m, addr)
	if err != nil {
		return err
	}
	if r.Rcode != dns.RcodeSuccess {
		return fmt.Errorf("%s", dns.RcodeToString[r.Rcode])
	}
	return nil
}

// TestCrashSafety registers elements from many clients and kills poolnsd
// with SIGKILL while registrations are still coming in: after a restart
// every acknowledged element is answered at once, and one whose lease ran
// out meanwhile is not.
func TestCrashSafety(t *testing.T) {
	t.Parallel()
	dir := daemonDir(t, goodZone, regConfig("lease_min: 1s", "rate: 100000", "burst: 100000")...)
	p := startDaemon(t, dir)
	addr, _ := p.ready()

	// One element with a 1 s lease, acknowledged before the others.
	if err := register(addr, "short", 0, 1); err != nil {
		t.Fatal(err)
	}
	shortEnds := time.Now().Add(time.Second)

	const total, killAt = 400, 150
	var (
		mu    sync.Mutex
		acked []string
		once  sync.Once
		wg    sync.WaitGroup
	)
	work := make(chan int)
	kill := func() { p.cmd.Process.Signal(syscall.SIGKILL) }
	for w := 0; w < 32; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				label := fmt.Sprintf("pe%d", i)
				if register(addr, label, i+1, 3600) != nil {
					continue // not acknowledged (sent around the kill)
				}
				mu.Lock()
				acked = append(acked, label)
				n := len(acked)
				mu.Unlock()
				if n >= killAt {
					once.Do(kill)
				}
			}
		}()
	}
	for i := 0; i < total; i++ {
		select {
		case work <- i:
		case <-p.Done():
			i = total // killed: stop sending
		}
	}
	close(work)
	wg.Wait()
	once.Do(kill)
	p.waitExit(waitLimit)
	if len(acked) < killAt {
		t.Fatalf("only %d registrations acknowledged before the kill", len(acked))
	}

	// Let the short lease run out while poolnsd is down.
	if d := time.Until(shortEnds); d > 0 {
		<-time.After(d)
	}
	p2 := startDaemon(t, dir)
	addr2, ready := p2.ready()
	t.Logf("%d acknowledged before the kill; the restart loaded %v", len(acked), ready["registrations"])
	m := new(dns.Msg)
	m.SetQuestion("reg.pool.example.", dns.TypeSRV)
	c := &dns.Client{Net: "tcp", Timeout: 5 * time.Second}
	r, _, err := c.Exchange(m, addr2)
	if err != nil {
		t.Fatal(err)
	}
	served := map[string]bool{}
	for _, rr := range r.Answer {
		served[strings.TrimSuffix(rr.(*dns.SRV).Target, ".reg.pool.example.")] = true
	}
	var lost []string
	for _, l := range acked {
		if !served[l] {
			lost = append(lost, l)
		}
	}
	if len(lost) > 0 {
		t.Errorf("%d acknowledged registrations lost in the crash: %q", len(lost), lost)
	}
	if served["short"] {
		t.Error("the element whose lease ran out while poolnsd was down is answered")
	}
	// Its lease ended while poolnsd was down, or (on a loaded machine,
	// where the 150 registrations take longer than its 1 s lease) before
	// the kill: either way one of the two processes logged its expiry.
	expiredBefore := false
	for _, r := range p.Records(0, p.Cursor()) {
		if r.Str("msg") == "registration expired" && r.Str("name") == "short" {
			expiredBefore = true
		}
	}
	if !expiredBefore {
		p2.waitLog(0, "the short registration's expiry", func(r logRec) bool {
			return r.Str("msg") == "registration expired while stopped"
		})
	}
	if n, _ := ready["registrations"].(float64); int(n) != len(served) {
		t.Errorf("ready line says %v registrations, %d served", ready["registrations"], len(served))
	}
}
