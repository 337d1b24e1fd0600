package enrpnet

import (
	"crypto/tls"
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// fastOpenQueue is the listener's queue of TCP Fast Open requests (SYNs
// with data not yet accepted).
const fastOpenQueue = 256

// listenControl turns TCP Fast Open on for the peering listener: a peer
// that connected before (it holds a cookie from this host) sends its
// TLS ClientHello in its SYN, and the handshake begins a round trip
// sooner. The kernel takes it only when net.ipv4.tcp_fastopen has bit 2
// (server) set, per network namespace; otherwise, or where the option is
// unknown, connections are as without it.
func listenControl(_, _ string, c syscall.RawConn) error {
	return c.Control(func(fd uintptr) {
		unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_FASTOPEN, fastOpenQueue)
	})
}

// dialControl asks for TCP Fast Open on a dial (TCP_FASTOPEN_CONNECT):
// with a cookie from an earlier connection to the peer, connect returns
// at once and the first write (the TLS ClientHello) goes in the SYN;
// without one, the dial is an ordinary one that asks for a cookie. The
// kernel does it only when net.ipv4.tcp_fastopen has bit 1 (client) set,
// the default.
func dialControl(_, _ string, c syscall.RawConn) error {
	return c.Control(func(fd uintptr) {
		unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_FASTOPEN_CONNECT, 1)
	})
}

// tcpiOptSynData is TCP_INFO's option bit for a SYN whose data the
// other side took (linux/tcp.h TCPI_OPT_SYN_DATA).
const tcpiOptSynData = 32

// fastOpened reports whether a connection's SYN carried data that the
// other side took: TCP Fast Open was used (for the debug log).
func fastOpened(nc net.Conn) bool {
	if tc, ok := nc.(*tls.Conn); ok {
		nc = tc.NetConn()
	}
	t, ok := nc.(*net.TCPConn)
	if !ok {
		return false
	}
	rc, err := t.SyscallConn()
	if err != nil {
		return false
	}
	var info *unix.TCPInfo
	if rc.Control(func(fd uintptr) { info, err = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO) }) != nil || err != nil {
		return false
	}
	return info.Options&tcpiOptSynData != 0
}
