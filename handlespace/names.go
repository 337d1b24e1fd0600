package handlespace

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// The names and addresses that a registration (HTTP, DNS UPDATE), a peer
// (ENRP) or a zone file may give a pool or an element: every one of them
// must be servable as DNS and reachable by a probe. The checks are pure
// and shared, so that each way in refuses the same things.

// MaxNameLen is the longest domain name in presentation form without
// escapes, final dot included: 255 octets on the wire (RFC 1035 §2.3.4)
// are 254 characters.
const MaxNameLen = 254

// CheckLabel checks a pool handle or an element's label: 1 to 63 octets
// of lower-case letters, digits, '-' and '_', not beginning or ending
// with '-'. Its error says what is wrong, quoting the label.
func CheckLabel(l string) error {
	switch {
	case l == "":
		return fmt.Errorf("empty label; want 1 to 63 letters, digits, '-' or '_'")
	case len(l) > 63:
		return fmt.Errorf("label %.20q... is %d octets long; want at most 63", l, len(l))
	}
	for i := 0; i < len(l); i++ {
		c := l[i]
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '_':
		case c == '-':
			if i == 0 || i == len(l)-1 {
				return fmt.Errorf("label %q begins or ends with '-'; want a letter, digit or '_' there", l)
			}
		case 'A' <= c && c <= 'Z':
			return fmt.Errorf("label %q has an upper-case letter; want lower case", l)
		default:
			return fmt.Errorf("label %q has %s; want letters, digits, '-' or '_'", l, describeByte(c))
		}
	}
	return nil
}

// describeByte names a byte for a message.
func describeByte(c byte) string {
	switch {
	case c == ' ':
		return "a space"
	case c == 0:
		return "a NUL byte"
	case c < 0x20 || c == 0x7f:
		return fmt.Sprintf("the control character 0x%02x", c)
	case c >= 0x80:
		return fmt.Sprintf("the byte 0x%02x (not ASCII; use the label's punycode form)", c)
	}
	return fmt.Sprintf("%q", string(c))
}

// CheckPoolName checks a pool's name as the handlespace writes it, a
// lower-case FQDN ("web.pool.example."): its first label, the handle, a
// CheckLabel; the others non-empty, at most 63 octets, without spaces or
// control characters; the whole at most MaxNameLen characters.
func CheckPoolName(name string) error {
	if !strings.HasSuffix(name, ".") || name == "." {
		//lint:ignore ST1005 the message ends with a name's final dot
		return fmt.Errorf("pool name %q is not a fully qualified name; want handle.zone.", name)
	}
	if len(name) > MaxNameLen {
		return fmt.Errorf("pool name %.40q... is %d characters long; want at most %d (255 octets on the wire)", name, len(name), MaxNameLen)
	}
	// Label by label without a slice of them: checked on every
	// registration.
	handle, zone, ok := strings.Cut(strings.TrimSuffix(name, "."), ".")
	if err := CheckLabel(handle); err != nil {
		return fmt.Errorf("pool handle: %w", err)
	}
	if !ok {
		//lint:ignore ST1005 the message ends with a name's final dot
		return fmt.Errorf("pool name %q has no zone; want handle.zone.", name)
	}
	for l := range strings.SplitSeq(zone, ".") {
		switch {
		case l == "":
			return fmt.Errorf("pool name %q has an empty label; want labels of 1 to 63 octets", name)
		case len(l) > 63:
			return fmt.Errorf("pool name %.40q...: a label of %d octets; want at most 63", name, len(l))
		}
		for i := 0; i < len(l); i++ {
			if c := l[i]; c <= ' ' || c == 0x7f {
				return fmt.Errorf("pool name %q has %s; want no spaces or control characters", name, describeByte(c))
			}
		}
	}
	return nil
}

// CheckElementName checks that an element's own name, label.pool, is a
// name DNS can carry (its SRV target and A/AAAA owner); pool and label
// passed their own checks.
func CheckElementName(pool, label string) error {
	if n := len(label) + 1 + len(pool); n > MaxNameLen {
		return fmt.Errorf("element name %s.%.30s... is %d characters long; want at most %d: a shorter label or pool name", label, pool, n, MaxNameLen)
	}
	return nil
}

// SignalLabel is the label under which RFC 9615's DNSSEC bootstrapping
// signals live (`_dsboot.<child>._signal.<name server>`, names the
// signer makes: dnsfront/lookup's signal.go).
const SignalLabel = "_signal"

// CheckRegistrable refuses what a registration may not name although
// CheckPoolName and CheckLabel pass it: a pool handle or an element label
// `_signal`, whose names (`_signal.<handle>.<zone>`, `<label>._signal.<zone>`)
// would be, or sit beside, the bootstrapping signals of a name server
// there (RFC 9615 §4.1: a signal's name holds the signer's records and
// nothing else). A zone file's $POOL is the operator's to name and is not
// checked; stored and peers' elements neither, so that an upgrade drops
// none.
func CheckRegistrable(pool, label string) error {
	if label == SignalLabel {
		return fmt.Errorf("element label %s is where DNSSEC bootstrapping signals live (RFC 9615); want another label", label)
	}
	if handle, _, _ := strings.Cut(pool, "."); handle == SignalLabel {
		return fmt.Errorf("pool handle %s is where DNSSEC bootstrapping signals live (RFC 9615); want another pool name", handle)
	}
	return nil
}

// CheckAddr checks an element's address: one that clients and probes can
// reach. Refused: the unspecified address (0.0.0.0, ::) and the rest of
// 0.0.0.0/8, multicast, the limited broadcast 255.255.255.255, IPv6
// link-local (it needs a zone, which an element cannot carry), an address
// with a zone; loopback too unless loopback is true (it points clients and
// the registrar's own probes at their own host). Its error names the
// address and why.
func CheckAddr(a netip.Addr, loopback bool) error {
	a = a.Unmap()
	switch {
	case !a.IsValid():
		return fmt.Errorf("no address; want an IPv4 or IPv6 address")
	case a.Zone() != "":
		return fmt.Errorf("%s has a zone; want an address without one", a)
	case a.IsUnspecified():
		return fmt.Errorf("%s is the unspecified address; want the element's own address", a)
	case a.Is4() && a.As4()[0] == 0:
		return fmt.Errorf("%s is in 0.0.0.0/8 (this network, RFC 1122), not an address to reach; want the element's own address", a)
	case a.IsMulticast():
		return fmt.Errorf("%s is a multicast address; want a unicast one", a)
	case a == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return fmt.Errorf("%s is the broadcast address; want a unicast one", a)
	case a.Is6() && a.IsLinkLocalUnicast():
		return fmt.Errorf("%s is IPv6 link-local, which needs a zone that an element cannot carry; want a global or unique-local address", a)
	case a.IsLoopback() && !loopback:
		return fmt.Errorf("%s: %w", a, ErrLoopback)
	}
	return nil
}

// ErrLoopback is CheckAddr's error (wrapped, after the address) for a
// loopback address where none is allowed.
var ErrLoopback = errors.New("a loopback address: clients and the registrar's probes would reach their own host")
