package relay

import (
	"net/netip"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// ipv4 returns a minimal IPv4 packet from src to dst with a one-byte body.
func ipv4(src, dst string, body byte) []byte {
	b := make([]byte, 21)
	b[0] = 0x45
	s, d := netip.MustParseAddr(src).As4(), netip.MustParseAddr(dst).As4()
	copy(b[12:], s[:])
	copy(b[16:], d[:])
	b[20] = body
	return b
}

// TestRoute: which delay a packet gets, by its source's and destination's
// sites (the longest prefix wins), and which packets a cut drops.
func TestRoute(t *testing.T) {
	ms := time.Millisecond
	tb := &routes{
		delay: [][]time.Duration{{0, 40 * ms}, {40 * ms, 5 * ms}},
		cut:   map[[2]int]bool{{1, 2}: true, {2, 1}: true},
		where: []placed{
			{netip.MustParsePrefix("198.18.0.0/16"), 0, 0},
			{netip.MustParsePrefix("198.18.1.1/32"), 1, 1},
			{netip.MustParsePrefix("198.18.1.2/32"), 2, 1},
		},
	}
	for _, c := range []struct {
		name    string
		pkt     []byte
		delay   time.Duration
		dropped bool
	}{
		{"site 0 to site 1", ipv4("198.18.0.9", "198.18.1.1", 0), 40 * ms, false},
		{"site 1 to site 0", ipv4("198.18.1.1", "198.18.0.9", 0), 40 * ms, false},
		{"within site 0", ipv4("198.18.0.9", "198.18.0.10", 0), 0, false},
		{"cut, one way", ipv4("198.18.1.1", "198.18.1.2", 0), 0, true},
		{"cut, the other way", ipv4("198.18.1.2", "198.18.1.1", 0), 0, true},
		{"unplaced destination passes", ipv4("198.18.0.9", "192.0.2.1", 0), 0, false},
		{"IPv6 passes", append([]byte{0x60}, make([]byte, 40)...), 0, false},
		{"runt passes", []byte{0x45, 0}, 0, false},
	} {
		d, drop := tb.route(c.pkt)
		if d != c.delay || drop != c.dropped {
			t.Errorf("%s: delay %v, dropped %v; want %v, %v", c.name, d, drop, c.delay, c.dropped)
		}
	}
}

// TestEngine runs an engine over one end of a datagram socket pair (a
// stand-in for the TUN device: one packet a read): a packet between two
// sites comes back no earlier than their delay, a packet within a site at
// once, and a cut drops packets until it is lifted.
func TestEngine(t *testing.T) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.SetNonblock(fds[0], true); err != nil {
		t.Fatal(err)
	}
	peer := fds[1]
	t.Cleanup(func() { unix.Close(peer) })
	const delay = 30 * time.Millisecond
	e, err := New(fds[0], [][]time.Duration{{0, delay}, {delay, 0}})
	if err != nil {
		unix.Close(fds[0])
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	e.Place(netip.MustParsePrefix("198.18.0.0/24"), 0, 0)
	e.Place(netip.MustParsePrefix("198.18.1.0/24"), 1, 1)
	tv := unix.NsecToTimeval(int64(5 * time.Second))
	if err := unix.SetsockoptTimeval(peer, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		t.Fatal(err)
	}
	// roundTrip sends p and returns how long it took to come back.
	roundTrip := func(p []byte) time.Duration {
		t.Helper()
		start := time.Now()
		if _, err := unix.Write(peer, p); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 64)
		n, err := unix.Read(peer, buf)
		if err != nil {
			t.Fatalf("packet %d not relayed: %v", p[20], err)
		}
		if string(buf[:n]) != string(p) {
			t.Fatalf("relayed % x, want % x", buf[:n], p)
		}
		return time.Since(start)
	}
	if rtt := roundTrip(ipv4("198.18.0.1", "198.18.1.1", 1)); rtt < delay-early {
		t.Errorf("across sites: back after %v, want at least %v", rtt, delay)
	}
	roundTrip(ipv4("198.18.0.1", "198.18.0.2", 2))

	e.SetCut(0, 1, true)
	if _, err := unix.Write(peer, ipv4("198.18.1.1", "198.18.0.1", 3)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the cut's drop counted", func() bool { return e.Stats().Dropped == 1 })
	e.SetCut(0, 1, false)
	roundTrip(ipv4("198.18.1.1", "198.18.0.1", 4)) // not the cut packet: it is gone

	// A packet is counted just after it is written back.
	waitFor(t, "3 packets relayed", func() bool { return e.Stats().Relayed == 3 })
	st := e.Mark()
	if st.Relayed != 3 || st.Dropped != 1 || st.Overflow != 0 {
		t.Errorf("counts %+v, want 3 relayed, 1 dropped", st)
	}
	if st := e.Mark(); st.Relayed != 0 || st.Dropped != 0 {
		t.Errorf("counts since the last mark %+v, want none", st)
	}
}

// waitFor waits until cond holds, at most 5 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 5 s", what)
		}
		time.Sleep(time.Millisecond)
	}
}
