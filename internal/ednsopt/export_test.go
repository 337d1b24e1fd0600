package ednsopt

import (
	"encoding/binary"

	"github.com/miekg/dns"
)

// FindOPT returns the offset of the RDLENGTH of msg's OPT record when it is
// the message's last record (in the additional section, owner the root),
// walking the message's sections. It does not allocate.
func FindOPT(msg []byte) (rdlenOff int, ok bool) {
	if len(msg) < 12 {
		return 0, false
	}
	qd := int(binary.BigEndian.Uint16(msg[4:]))
	an := int(binary.BigEndian.Uint16(msg[6:]))
	ns := int(binary.BigEndian.Uint16(msg[8:]))
	ar := int(binary.BigEndian.Uint16(msg[10:]))
	if ar == 0 {
		return 0, false
	}
	off := 12
	for i := 0; i < qd; i++ {
		end, ok := skipName(msg, off)
		if !ok || end+4 > len(msg) {
			return 0, false
		}
		off = end + 4
	}
	for i := 0; i < an+ns+ar; i++ {
		start := off
		end, ok := skipName(msg, off)
		if !ok || end+10 > len(msg) {
			return 0, false
		}
		rdlen := int(binary.BigEndian.Uint16(msg[end+8:]))
		off = end + 10 + rdlen
		if off > len(msg) {
			return 0, false
		}
		if i == an+ns+ar-1 {
			if off != len(msg) || msg[start] != 0 || end != start+1 || binary.BigEndian.Uint16(msg[end:]) != dns.TypeOPT {
				return 0, false
			}
			return end + 8, true
		}
	}
	return 0, false
}

// skipName returns the offset after the (possibly compressed) name at off.
func skipName(msg []byte, off int) (int, bool) {
	for n := 0; n < 128; n++ { // a name has at most 127 labels
		if off >= len(msg) {
			return 0, false
		}
		c := int(msg[off])
		switch c & 0xC0 {
		case 0x00:
			if c == 0 {
				return off + 1, true
			}
			off += 1 + c
		case 0xC0:
			if off+2 > len(msg) {
				return 0, false
			}
			return off + 2, true
		default:
			return 0, false // 0x40 and 0x80 label types are not in use
		}
	}
	return 0, false
}
