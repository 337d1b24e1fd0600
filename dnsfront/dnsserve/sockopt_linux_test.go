package dnsserve

import (
	"context"
	"net"
	"testing"

	"golang.org/x/sys/unix"
)

// TestUDPSocketsIgnorePathMTU: every UDP socket Start binds, IPv4 and
// IPv6 (whose IPv4-mapped traffic the IPv4 option governs), has path MTU
// discovery set to IP_PMTUDISC_OMIT, and each IPv6 one IPV6_PMTUDISC_OMIT, so that a forged ICMP "fragmentation
// needed" cannot make it fragment its answers (udpControl). The option
// belongs to the socket, set before the loops take it, whatever they wait
// in; the poller's wait keeps the net.UDPConn open for the test to ask.
func TestUDPSocketsIgnorePathMTU(t *testing.T) {
	listen := []string{"127.0.0.1:0"}
	if l, err := net.ListenPacket("udp6", "[::1]:0"); err == nil {
		l.Close()
		listen = append(listen, "[::1]:0")
	}
	s, err := Start(Config{Listen: listen, UDPSockets: 2, UDPPoller: true, Logger: quiet()}, &fakeHandler{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(context.Background())
	if len(s.udp) != 2*len(listen) {
		t.Fatalf("%d UDP sockets, want %d", len(s.udp), 2*len(listen))
	}
	for _, u := range s.udp {
		rc, err := u.sock.conn.SyscallConn()
		if err != nil {
			t.Fatal(err)
		}
		var v int
		var gerr error
		if err := rc.Control(func(fd uintptr) {
			v, gerr = unix.GetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_MTU_DISCOVER)
		}); err != nil || gerr != nil {
			t.Fatalf("%v: getsockopt: %v %v", u.sock.conn.LocalAddr(), err, gerr)
		}
		if v != unix.IP_PMTUDISC_OMIT {
			t.Errorf("%v: IP_MTU_DISCOVER %d, want IP_PMTUDISC_OMIT (%d)", u.sock.conn.LocalAddr(), v, unix.IP_PMTUDISC_OMIT)
		}
		if u.sock.conn.LocalAddr().(*net.UDPAddr).IP.To4() != nil {
			continue
		}
		if err := rc.Control(func(fd uintptr) {
			v, gerr = unix.GetsockoptInt(int(fd), unix.IPPROTO_IPV6, unix.IPV6_MTU_DISCOVER)
		}); err != nil || gerr != nil {
			t.Fatalf("%v: getsockopt IPv6: %v %v", u.sock.conn.LocalAddr(), err, gerr)
		}
		if v != unix.IPV6_PMTUDISC_OMIT {
			t.Errorf("%v: IPV6_MTU_DISCOVER %d, want IPV6_PMTUDISC_OMIT (%d)", u.sock.conn.LocalAddr(), v, unix.IPV6_PMTUDISC_OMIT)
		}
	}
}
