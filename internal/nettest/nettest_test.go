package nettest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	if name := os.Getenv(lockChildEnv); name != "" {
		lockChild(name)
		return
	}
	goleak.VerifyTestMain(m)
}

// lockChildEnv names the lock a child process of TestLockAcrossProcesses
// tries (prefix, a space, the port).
const lockChildEnv = "NETTEST_LOCK_CHILD"

// lockChild tries the lock and says "held" (another holds it) or "free";
// it exits holding a lock it got.
func lockChild(name string) {
	prefix, port, _ := strings.Cut(name, " ")
	p, _ := strconv.Atoi(port)
	_, ok, err := lock(prefix, p)
	switch {
	case err != nil:
		fmt.Println(err)
		os.Exit(1)
	case ok:
		fmt.Println("free")
	default:
		fmt.Println("held")
	}
}

// TestLockAcrossProcesses: a lock this process holds is held for another
// process whose TMPDIR differs, and free for it once released; a process
// that exits holding one lets it go.
func TestLockAcrossProcesses(t *testing.T) {
	prefix := fmt.Sprintf("poolnsd-test-lock-%d-", os.Getpid())
	child := func(port int) string {
		t.Helper()
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), lockChildEnv+"="+prefix+" "+strconv.Itoa(port), "TMPDIR="+t.TempDir())
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("child: %v %s", err, out)
		}
		return strings.TrimSpace(string(out))
	}
	release, ok, err := lock(prefix, 1)
	if err != nil || !ok {
		t.Fatalf("lock 1: %v %v", ok, err)
	}
	if got := child(1); got != "held" {
		t.Errorf("the child finds a held lock %s", got)
	}
	release()
	release() // a second release is harmless
	if got := child(1); got != "free" {
		t.Errorf("the child finds a released lock %s", got)
	}
	// The child exited holding lock 1: the kernel let it go.
	if release, ok, err := lock(prefix, 1); err != nil || !ok {
		t.Errorf("lock 1 after the child that held it exited: %v %v", ok, err)
	} else {
		release()
	}
}

// server answers on 127.0.0.1:0 over UDP the queries that answer says
// to (by their order from 0), and counts them all; it stops at the test's
// end.
func server(t *testing.T, answer func(i int) bool) (string, *atomic.Int32) {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var seen atomic.Int32
	done := make(chan struct{})
	t.Cleanup(func() { pc.Close(); <-done })
	go func() {
		defer close(done)
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			i := int(seen.Add(1)) - 1
			q := new(dns.Msg)
			if q.Unpack(buf[:n]) != nil || !answer(i) {
				continue
			}
			r := new(dns.Msg)
			r.SetReply(q)
			b, _ := r.Pack()
			pc.WriteTo(b, from)
		}
	}()
	return pc.LocalAddr().String(), &seen
}

func question() *dns.Msg {
	m := new(dns.Msg)
	m.SetQuestion("web.pool.example.", dns.TypeA)
	return m
}

// TestExchangeRetriesUDP: a query lost once is sent again and answered;
// one never answered is sent Attempts times and fails as a timeout.
func TestExchangeRetriesUDP(t *testing.T) {
	// The first query is dropped: only a second one can be answered. (A
	// second reply later than the timeout would be a third query: no
	// harm.)
	addr, seen := server(t, func(i int) bool { return i > 0 })
	r, err := Exchange(&dns.Client{Timeout: time.Second}, question(), addr)
	if err != nil || r == nil || r.Question[0].Name != "web.pool.example." {
		t.Fatalf("Exchange: %v, %v; want the reply to the second query", r, err)
	}
	if n := seen.Load(); n < 2 {
		t.Errorf("the server saw %d queries, want at least 2", n)
	}

	addr, seen = server(t, func(int) bool { return false })
	r, err = Exchange(&dns.Client{Timeout: 100 * time.Millisecond}, question(), addr)
	if !isTimeout(err) || r != nil {
		t.Fatalf("Exchange with no reply: %v, %v; want a timeout", r, err)
	}
	// The server reads the last query when it gets a core: wait for it.
	for deadline := time.Now().Add(10 * time.Second); seen.Load() < Attempts && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if n := seen.Load(); n != Attempts {
		t.Errorf("the server saw %d queries, want %d", n, Attempts)
	}
}

// TestExchangeOtherErrors: a refused port is no timeout, and is not
// tried again; the default client's timeout is Timeout.
func TestExchangeOtherErrors(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := pc.LocalAddr().String()
	pc.Close() // nobody listens: ICMP port unreachable, "connection refused"
	start := time.Now()
	if _, err := Exchange(nil, question(), addr); err == nil || isTimeout(err) {
		t.Fatalf("Exchange to a closed port: %v; want an error other than a timeout", err)
	}
	if d := time.Since(start); d >= Timeout {
		t.Errorf("Exchange to a closed port took %v: it waited for a reply", d)
	}
}

// TestPickHoldsPorts: in a range of three ports, three picks give the
// three, the fourth finds none while they are held, and a released one
// can be picked again; a port bound by another socket is passed over.
func TestPickHoldsPorts(t *testing.T) {
	// Locks of the test's own, apart from FreePort's.
	prefix := fmt.Sprintf("poolnsd-test-pick-%d-", os.Getpid())
	lo, hi := PortRange()
	// Three ports next to each other that are free now, whose FreePort
	// locks the test holds: the other tests' FreePort gives none of them
	// meanwhile, and the test binds none that another test's FreePort
	// gave.
	var base int
	for p := lo; p+2 <= hi && base == 0; p += 3 {
		var held []func()
		for q := p; q <= p+2; q++ {
			if release, ok, err := lock(lockPrefix, q); err != nil {
				t.Fatal(err)
			} else if ok {
				held = append(held, release)
			}
		}
		if len(held) == 3 && free("127.0.0.1", p) && free("127.0.0.1", p+1) && free("127.0.0.1", p+2) {
			base = p
			for _, release := range held {
				t.Cleanup(release)
			}
			break
		}
		for _, release := range held {
			release()
		}
	}
	if base == 0 {
		t.Fatal("no three free ports in a row")
	}
	got := map[int]func(){}
	for range 3 {
		p, release, err := pick("127.0.0.1", base, base+2, prefix)
		if err != nil {
			t.Fatal(err)
		}
		if got[p] != nil {
			t.Fatalf("port %d picked twice while held", p)
		}
		got[p] = release
	}
	if p, _, err := pick("127.0.0.1", base, base+2, prefix); err == nil {
		t.Fatalf("picked %d with all three held", p)
	}
	got[base+1]()
	p, release, err := pick("127.0.0.1", base, base+2, prefix)
	if err != nil || p != base+1 {
		t.Fatalf("pick after releasing %d: %d, %v", base+1, p, err)
	}
	release()
	got[base]()
	got[base+2]()

	// A port in use (UDP only) is not free.
	pc, err := net.ListenPacket("udp", net.JoinHostPort("127.0.0.1", strconv.Itoa(base)))
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	if p, _, err := pick("127.0.0.1", base, base, prefix); err == nil {
		t.Fatalf("picked %d, which a UDP socket holds", p)
	}
}

// TestFreePortOutsideEphemeral: FreePort's port is outside the kernel's
// ephemeral range and can be listened on, for TCP and UDP.
func TestFreePortOutsideEphemeral(t *testing.T) {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		t.Skip("no ip_local_port_range here:", err)
	}
	var elo, ehi int
	if _, err := fmt.Sscan(string(b), &elo, &ehi); err != nil {
		t.Fatalf("ip_local_port_range %q: %v", b, err)
	}
	p := FreePort(t, "127.0.0.1")
	if p >= elo && p <= ehi {
		t.Fatalf("port %d is in the ephemeral range %d..%d", p, elo, ehi)
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(p))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	pc.Close()
}
