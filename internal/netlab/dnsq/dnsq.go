// Package dnsq is the namespace lab's DNS client wire code: the checker
// asks thousands of questions a second, so it packs each question once and
// reads the rcode, TC bit and A records of a reply without building a
// dns.Msg.
package dnsq

import (
	"encoding/binary"
	"errors"
	"net/netip"

	"github.com/miekg/dns"
)

// PackQuery returns an A query for name with EDNS0 (UDP size 1232) and
// recursion not desired; its ID is set per send with SetID.
func PackQuery(name string) ([]byte, error) {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), dns.TypeA)
	m.RecursionDesired = false
	m.SetEdns0(1232, false)
	return m.Pack()
}

// SetID writes id into a packed message.
func SetID(b []byte, id uint16) { binary.BigEndian.PutUint16(b, id) }

// Reply is what the checker reads of a reply.
type Reply struct {
	ID    uint16
	Rcode int
	TC    bool
	Addrs []netip.Addr // the A records of the answer section, in order
}

var errShort = errors.New("dnsq: short DNS message")

// skipName returns the offset after the (possibly compressed) name at off.
func skipName(b []byte, off int) (int, error) {
	for {
		if off >= len(b) {
			return 0, errShort
		}
		l := int(b[off])
		switch {
		case l == 0:
			return off + 1, nil
		case l&0xC0 == 0xC0:
			if off+2 > len(b) {
				return 0, errShort
			}
			return off + 2, nil
		case l&0xC0 != 0:
			return 0, errors.New("dnsq: bad label type in a DNS name")
		default:
			off += 1 + l
		}
	}
}

// ParseReply reads a reply's ID, rcode, TC bit and A records, appending
// the addresses to addrs[:0].
func ParseReply(b []byte, addrs []netip.Addr) (Reply, error) {
	if len(b) < 12 {
		return Reply{}, errShort
	}
	r := Reply{
		ID:    binary.BigEndian.Uint16(b),
		Rcode: int(b[3] & 0x0F),
		TC:    b[2]&0x02 != 0,
		Addrs: addrs[:0],
	}
	if b[2]&0x80 == 0 {
		return Reply{}, errors.New("dnsq: a DNS query, not a reply")
	}
	qd := int(binary.BigEndian.Uint16(b[4:]))
	an := int(binary.BigEndian.Uint16(b[6:]))
	off := 12
	var err error
	for i := 0; i < qd; i++ {
		if off, err = skipName(b, off); err != nil {
			return Reply{}, err
		}
		off += 4
	}
	for i := 0; i < an; i++ {
		if off, err = skipName(b, off); err != nil {
			return Reply{}, err
		}
		if off+10 > len(b) {
			return Reply{}, errShort
		}
		typ := binary.BigEndian.Uint16(b[off:])
		rdlen := int(binary.BigEndian.Uint16(b[off+8:]))
		off += 10
		if off+rdlen > len(b) {
			return Reply{}, errShort
		}
		if typ == dns.TypeA && rdlen == 4 {
			r.Addrs = append(r.Addrs, netip.AddrFrom4([4]byte(b[off:off+4])))
		}
		off += rdlen
	}
	return r, nil
}
