package udpbatch

import (
	"encoding/binary"
	"net"
	"net/netip"
)

// Msg is one datagram.
type Msg struct {
	// Buf is the datagram. For ReadBatch, its length is the room to read
	// into (it must not be empty); after it, Buf holds what was read.
	Buf []byte
	// Addr is the peer: the source of a datagram read, the destination of
	// one written.
	Addr Addr
	// OOB is control data. For ReadBatch, its capacity is the room for the
	// datagram's destination address (OOBSize; none: do not ask); after it,
	// what came. WriteBatch sends it as given: a reply passes on what the
	// query brought, so that it leaves from the address the client asked.
	OOB []byte
}

// OOBSize is room enough for the control data ReadBatch asks for: a
// destination address (an IPv6 one: 40 bytes) and a time of receipt
// (Stamp: 32 bytes).
const OOBSize = 80

// Addr is a socket address in its raw form (struct sockaddr_in or
// sockaddr_in6), which the system calls fill and read without a conversion
// or an allocation per datagram.
type Addr struct {
	raw [28]byte
	n   uint32 // bytes of raw in use; 0: none
}

const (
	afInet  = 2
	afInet6 = 10
)

// AddrPort returns the address as a netip.AddrPort (IPv4-mapped IPv6
// addresses as IPv4), or the zero AddrPort when it is not an IP address.
func (a *Addr) AddrPort() netip.AddrPort {
	if a.n < 2 {
		return netip.AddrPort{}
	}
	port := binary.BigEndian.Uint16(a.raw[2:])
	switch binary.NativeEndian.Uint16(a.raw[:]) {
	case afInet:
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte(a.raw[4:8])), port)
	case afInet6:
		ip := netip.AddrFrom16([16]byte(a.raw[8:24]))
		if ip.Is4In6() {
			return netip.AddrPortFrom(ip.Unmap(), port)
		}
		zone := binary.NativeEndian.Uint32(a.raw[24:28])
		if zone != 0 {
			// A link-local peer: the zone is an interface index. Rare; the
			// conversion allocates the zone's name.
			ip = ip.WithZone(zoneName(int(zone)))
		}
		return netip.AddrPortFrom(ip, port)
	}
	return netip.AddrPort{}
}

// AddrFrom returns ap in raw form, for a socket of family v6 (an IPv6
// socket: IPv4 addresses are written IPv4-mapped) or IPv4.
func AddrFrom(ap netip.AddrPort, v6 bool) Addr {
	var a Addr
	ip := ap.Addr()
	binary.BigEndian.PutUint16(a.raw[2:], ap.Port())
	if !v6 && ip.Is4() {
		binary.NativeEndian.PutUint16(a.raw[:], afInet)
		b := ip.As4()
		copy(a.raw[4:8], b[:])
		a.n = 16
		return a
	}
	binary.NativeEndian.PutUint16(a.raw[:], afInet6)
	b := ip.As16()
	copy(a.raw[8:24], b[:])
	if z := ip.Zone(); z != "" {
		if ifi, err := net.InterfaceByName(z); err == nil {
			binary.NativeEndian.PutUint32(a.raw[24:28], uint32(ifi.Index))
		}
	}
	a.n = 28
	return a
}

func zoneName(index int) string {
	if ifi, err := net.InterfaceByIndex(index); err == nil {
		return ifi.Name
	}
	return ""
}

// Stats counts a Conn's system calls and datagrams, for the metrics and
// the benchmarks (system calls per query).
type Stats struct {
	ReadCalls, ReadMsgs   uint64
	WriteCalls, WriteMsgs uint64
	// EmptyReads are the read system calls that read nothing: New's
	// EAGAIN recvmmsg before each wait in the network poller (and
	// ReadBatchNow's), NewThread's waits that a signal or the idle
	// timeout ended.
	EmptyReads uint64
}
