//go:build !linux

package enrpnet

import "net"

// tcpRTT: the RTT is known on Linux only.
func tcpRTT(c *net.TCPConn) (PeerRTT, bool) { return PeerRTT{}, false }
