package dnsserve

import (
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// reusePort sets SO_REUSEPORT so that several UDP sockets share one port and
// the kernel spreads queries over them.
func reusePort(network, address string, c syscall.RawConn) error {
	var serr error
	err := c.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
	})
	if err != nil {
		return err
	}
	return serr
}

// udpControl prepares a UDP socket: SO_REUSEPORT (see reusePort), and path
// MTU discovery off for IPv4 (IP_PMTUDISC_OMIT, Linux 3.15+): the kernel then
// ignores ICMP "fragmentation needed" messages, which anyone can forge to
// make a server fragment its answers for a fragment-injection attack on a
// resolver's cache, and it sends answers without DF, fragmenting only what
// exceeds the interface's MTU (which dns.udp_size keeps answers under). BIND,
// NSD, unbound and dnsdist do the same (background: RFC 9715). On an IPv6
// socket the IPv4 option covers its IPv4-mapped traffic, and
// IPV6_PMTUDISC_OMIT its own: IPv6 answers stay within the 1 280-byte
// minimum MTU at the default dns.udp_size, and a larger dns.udp_size cannot
// be turned into fragments by a forged "packet too big" either. A kernel that
// refuses an option only loses the mitigation.
func udpControl(network, address string, c syscall.RawConn) error {
	if err := reusePort(network, address, c); err != nil {
		return err
	}
	return c.Control(func(fd uintptr) {
		_ = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_MTU_DISCOVER, unix.IP_PMTUDISC_OMIT)
		if network == "udp6" {
			_ = unix.SetsockoptInt(int(fd), unix.IPPROTO_IPV6, unix.IPV6_MTU_DISCOVER, unix.IPV6_PMTUDISC_OMIT)
		}
	})
}

// setRecvBuffer raises a UDP socket's receive buffer, so that a burst or a
// GC pause does not overflow it (the kernel caps it at net.core.rmem_max).
func setRecvBuffer(pc net.PacketConn, n int) {
	if u, ok := pc.(*net.UDPConn); ok {
		_ = u.SetReadBuffer(n)
	}
}
