//go:build !linux

package enrp

import "net"

// tcpRTT: the RTT is known on Linux only.
func tcpRTT(c *net.TCPConn) (PeerRTT, bool) { return PeerRTT{}, false }
