package enrpnet

import (
	"net"
	"time"

	"golang.org/x/sys/unix"
)

// tcpRTT reads the kernel's smoothed RTT of a TCP connection (TCP_INFO,
// in microseconds).
func tcpRTT(c *net.TCPConn) (PeerRTT, bool) {
	rc, err := c.SyscallConn()
	if err != nil {
		return PeerRTT{}, false
	}
	var info *unix.TCPInfo
	var serr error
	if err := rc.Control(func(fd uintptr) {
		info, serr = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO)
	}); err != nil || serr != nil {
		return PeerRTT{}, false
	}
	return PeerRTT{RTT: time.Duration(info.Rtt) * time.Microsecond, RTTVar: time.Duration(info.Rttvar) * time.Microsecond}, true
}
