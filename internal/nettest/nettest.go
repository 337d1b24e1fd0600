// Package nettest holds the network helpers that the tests share: a DNS
// exchange that a loaded machine does not fail, and ports that stay free
// until the test's server binds them.
//
// # Basics
//
// Exchange(c, m, addr) is c.Exchange with a timeout meant for a machine
// that runs the whole suite under -race on two cores (Timeout, where c
// has none), and over UDP with the query sent again when no reply comes
// (Attempts in all). Use it where a test is about the answer, not about
// how soon it comes.
//
// FreePort(t, ip) returns a port for a server whose address must be
// known before it starts (a peer named in the others' configurations, an
// external program's port). Where the server can listen on port 0 and
// say where it listens, let it: that needs no helper.
//
// # Caveats
//
// A retried query reaches the server twice: not for UPDATE, and a test
// that counts the queries a server saw must allow for it (or use a client
// of its own). A test about timeouts or lost queries uses a client of its
// own.
//
// FreePort keeps the port from the kernel (which gives no port outside
// its ephemeral range to a socket bound to port 0 or to a client) and
// from the other callers of FreePort in its network namespace (the
// machine, but for tests in namespaces of their own), not from a program
// that binds that port by number: a test that starts such a program
// keeps it out of PortRange (unbound's outgoing-port-avoid), and one
// that starts a server on FreePort's port starts it again on another
// when the port was taken (test/e2e's startPeers), or, when others know
// the address already (a server started again), on the same port after
// a pause, for a bounded time (test/e2e's whileTaken).
package nettest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/sys/unix"
)

// Timeout is how long Exchange waits for each reply when the client has
// no timeout of its own. A query over loopback is answered in well under
// a millisecond on an idle machine; under -race on a loaded one a server
// has taken over a second to get a core.
const Timeout = 5 * time.Second

// Attempts is how many times Exchange sends a UDP query that gets no
// reply: a datagram is dropped when the server's receive queue is full,
// which a server that gets no core for a while lets happen.
const Attempts = 3

// Exchange sends m to addr with c (nil: UDP) and returns the reply. When
// c has no timeout it waits Timeout for each reply. Over UDP a query that
// times out is sent again, Attempts times in all; over TCP it is sent
// once. Other errors (a refused port, a bad reply) are returned at once.
func Exchange(c *dns.Client, m *dns.Msg, addr string) (*dns.Msg, error) {
	var cc dns.Client
	if c != nil {
		cc = *c
	}
	if cc.Timeout == 0 {
		cc.Timeout = Timeout
	}
	attempts := Attempts
	if strings.HasPrefix(cc.Net, "tcp") {
		attempts = 1
	}
	var err error
	for range attempts {
		var r *dns.Msg
		r, _, err = cc.Exchange(m, addr)
		if !isTimeout(err) {
			return r, err
		}
	}
	return nil, fmt.Errorf("no reply from %s in %d attempts of %v: %w", addr, attempts, cc.Timeout, err)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// FreePort returns a port of ip (a local address) that is free for TCP
// and for UDP, and keeps it free until the test ends, for a server the
// test starts later. A port that was free a moment ago (a listener on
// port 0, closed) is not enough: the kernel may give it, in between, to
// any socket of the machine bound to port 0 or to any client's connect,
// and the server's bind fails. So the port is taken outside the kernel's
// ephemeral range (net.ipv4.ip_local_port_range), where the kernel gives
// none, and the test holds a lock on it (lock) that FreePort in the other
// tests and test processes respects.
func FreePort(t testing.TB, ip string) int {
	t.Helper()
	lo, hi := PortRange()
	port, release, err := pick(ip, lo, hi, lockPrefix)
	if err != nil {
		t.Fatalf("nettest: %v", err)
	}
	t.Cleanup(release)
	return port
}

// ListenTCP returns a TCP listener on a port of ip that FreePort gave,
// for a server that must be able to listen on that same port again later
// (after it is killed, say): the port stays FreePort's until the test
// ends. A port that a program outside the callers of FreePort took
// between FreePort's check and the bind is passed over for another, a
// few times.
func ListenTCP(t testing.TB, ip string) net.Listener {
	t.Helper()
	var err error
	for range 5 {
		var ln net.Listener
		ln, err = net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(FreePort(t, ip))))
		if err == nil {
			return ln
		}
		if !errors.Is(err, unix.EADDRINUSE) {
			break
		}
	}
	t.Fatalf("nettest: %v", err)
	return nil
}

// PortRange is where FreePort looks (lo..hi): below the kernel's
// ephemeral range (from 20000, above the ports servers are usually
// given), or above it when that leaves more room. A program the tests
// start that picks ports of its own by number (unbound's outgoing
// queries, say) is told to avoid it.
func PortRange() (lo, hi int) {
	elo, ehi := 32768, 60999 // Linux's default
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			a, err1 := strconv.Atoi(f[0])
			z, err2 := strconv.Atoi(f[1])
			if err1 == nil && err2 == nil && a <= z {
				elo, ehi = a, z
			}
		}
	}
	if elo-20000 >= 65535-ehi {
		return 20000, elo - 1
	}
	return ehi + 1, 65535
}

// lockPrefix begins the names of FreePort's locks.
const lockPrefix = "poolnsd-test-port-"

// pick returns a port in lo..hi free on ip for TCP and UDP whose lock
// (named prefix and the port) it holds, and the function that lets it
// go.
func pick(ip string, lo, hi int, prefix string) (int, func(), error) {
	if lo < 1 || hi > 65535 || lo > hi {
		return 0, nil, fmt.Errorf("no room for ports outside the ephemeral range (%d..%d)", lo, hi)
	}
	n := hi - lo + 1
	start := rand.IntN(n)
	for i := range min(n, 1000) {
		port := lo + (start+i)%n
		release, ok, err := lock(prefix, port)
		if err != nil {
			return 0, nil, err
		}
		if !ok {
			continue
		}
		if free(ip, port) {
			return port, release, nil
		}
		release()
	}
	return 0, nil, fmt.Errorf("no free port on %s in %d..%d", ip, lo, hi)
}

// lock takes the lock of port, without waiting; ok is false when another
// holds it. The lock is a Unix socket bound to the abstract address
// prefix+port: abstract addresses belong to the network namespace, as
// ports do, so every process that shares the ports sees it, whatever its
// TMPDIR or its mounts, and the kernel lets it go when the holder exits.
// There is no file to remove. (Lock files under $TMPDIR, flock, as
// before, were seen only by processes with the same TMPDIR, and stayed
// behind, one per port.)
func lock(prefix string, port int) (release func(), ok bool, err error) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, false, fmt.Errorf("a lock for port %d: %w", port, err)
	}
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: "@" + prefix + strconv.Itoa(port)}); err != nil {
		unix.Close(fd)
		if errors.Is(err, unix.EADDRINUSE) {
			return nil, false, nil
		}
		return nil, false, fmt.Errorf("a lock for port %d: %w", port, err)
	}
	// Once: a second close could close another file that got the number.
	var once sync.Once
	return func() { once.Do(func() { unix.Close(fd) }) }, true, nil
}

// free reports whether ip:port can be bound for TCP and for UDP now.
func free(ip string, port int) bool {
	addr := net.JoinHostPort(ip, strconv.Itoa(port))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return false
	}
	defer ln.Close()
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		return false
	}
	pc.Close()
	return true
}
