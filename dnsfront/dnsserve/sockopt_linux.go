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

// setRecvBuffer raises a UDP socket's receive buffer, so that a burst or a
// GC pause does not overflow it (the kernel caps it at net.core.rmem_max).
func setRecvBuffer(pc net.PacketConn, n int) {
	if u, ok := pc.(*net.UDPConn); ok {
		_ = u.SetReadBuffer(n)
	}
}
