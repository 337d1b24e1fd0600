package handlespace

import (
	"fmt"
	"hash/fnv"
	"net/netip"
	"strconv"
	"time"

	"github.com/poolnsd/poolnsd/handlespace/internal/ptree"
)

// Health is what a registrar believes of a pool element's liveness.
type Health uint8

const (
	// HealthUnknown: not yet probed. Not served (once probes exist).
	HealthUnknown Health = iota
	// HealthUp: served.
	HealthUp
	// HealthDown: not served (unless the pool fails open).
	HealthDown
)

func (h Health) String() string {
	switch h {
	case HealthUp:
		return "up"
	case HealthDown:
		return "down"
	default:
		return "unknown"
	}
}

// Admin is an operator's administrative state of an element.
type Admin uint8

const (
	// AdminAuto: health decides (the default).
	AdminAuto Admin = iota
	// AdminDrain: stays registered and probed, leaves the answers (to take
	// a server out of service gently, letting cached answers run out).
	AdminDrain
	// AdminForceDown: treated as down whatever its probes say.
	AdminForceDown
)

func (a Admin) String() string {
	switch a {
	case AdminDrain:
		return "drain"
	case AdminForceDown:
		return "force-down"
	default:
		return "auto"
	}
}

// ParseAdmin parses "auto", "drain" or "force-down".
func ParseAdmin(s string) (Admin, error) {
	switch s {
	case "auto":
		return AdminAuto, nil
	case "drain":
		return AdminDrain, nil
	case "force-down":
		return AdminForceDown, nil
	}
	return 0, fmt.Errorf("unknown admin state %q; want auto, drain or force-down", s)
}

// Transport is the transport protocol a pool element serves on (RFC 5354
// user transport parameter).
type Transport uint8

const (
	TransportTCP Transport = iota
	TransportUDP
	TransportSCTP
)

func (t Transport) String() string {
	switch t {
	case TransportUDP:
		return "udp"
	case TransportSCTP:
		return "sctp"
	default:
		return "tcp"
	}
}

// ParseTransport parses "tcp", "udp" or "sctp".
func ParseTransport(s string) (Transport, error) {
	switch s {
	case "tcp":
		return TransportTCP, nil
	case "udp":
		return TransportUDP, nil
	case "sctp":
		return TransportSCTP, nil
	}
	return 0, fmt.Errorf("unknown transport %q; want tcp, udp or sctp", s)
}

// LoadFull is the RFC 5356 load value of a fully loaded element (100 %).
// Loads and load degradations are fractions of it.
const LoadFull = 0xFFFFFFFF

// LoadFromFraction converts 0.0–1.0 to the RFC 5356 32-bit scale, clamping.
func LoadFromFraction(f float64) uint32 {
	if !(f > 0) { // also NaN
		return 0
	}
	if f >= 1 {
		return LoadFull
	}
	return uint32(f * LoadFull)
}

// LoadFraction converts an RFC 5356 load value to 0.0–1.0.
func LoadFraction(l uint32) float64 { return float64(l) / LoadFull }

// Element is one pool element (PE). Once an Element is published in a view
// it is never modified: writers copy it (see Clone).
//
// The fields are in an order that leaves little padding between them (4
// bytes after Site and after Owner), so that an element with its label and
// one or two addresses inside fits the allocator's 192-byte class
// (TestElementSize).
type Element struct {
	// ID is the pool element identifier, unique in its pool.
	ID uint32
	// Port is the port the element serves on.
	Port uint16
	// Transport is the element's transport protocol.
	Transport Transport
	// Health is the element's current health.
	Health Health
	// Label is the DNS label of the element's own name <label>.<handle>.<zone>,
	// the target of SRV answers. Lower case. Kept in the element itself
	// (LabelOf, Label.String).
	Label Label
	// Addrs are the element's addresses, IPv4 and/or IPv6 (AddrsOf).
	Addrs Addrs

	// Policy parameters (RFC 5356).
	Weight   uint32   // wrr, wrand, wrand-dpf
	Priority uint32   // prio; lower value is preferred, as in SRV
	Load     uint32   // lu, lud, plu, rlu and RSPLIB's (rplu, plud, …); 0 idle … LoadFull
	LoadDeg  uint32   // lud, plud, rlud, …: added to Load at each first pick until the next load report; plu, plud, rplu, …: added to Load
	Site     SiteName // nearest

	// Expires is the end of the registration lease (ExpiryOf,
	// Expires.Time); 0 for elements that zone files define, which have
	// no lease.
	Expires Expiry
	// Home is the ID of the registrar that owns the element.
	Home uint32
	// Static is true for elements defined by a zone file.
	Static bool
	// Admin is the operator's administrative state.
	Admin Admin
	// Reported is true when pool users reported the element unreachable
	// often enough (max_bad_reports) that it left the answers; the next
	// probe that passes clears it.
	Reported bool
	// Last is true when this registrar puts the element after the others
	// in its answers: it is disputed (see Vantage) and, as far as this
	// registrar knows, out of its own reach (see LastAt). Each registrar
	// sets its own; it does not travel to peers.
	Last bool
	// Owner is who registered the element (OwnerOf), for quotas and so
	// that one registrant cannot take over another's element:
	// "tsig:KEYNAME" or "http"; the zero Owner ("") for zone-file elements.
	Owner Owner
	// Lease is the lifetime last granted to the registration (Expires is
	// when it ends); zero without a lease.
	Lease time.Duration

	// RTT is the smoothed round-trip time of the element's probes (0:
	// unknown), for the nearest policy: its home registrar's measure,
	// which peering carries.
	RTT time.Duration
	// LocalRTT is this registrar's own smoothed round-trip time to the
	// element (0: none yet): its probes' where it is the home, its RTT
	// samples' elsewhere (nearest.rtt_interval). The nearest policy
	// orders by it where it is known, so that each registrar answers by
	// its own distance. It never leaves the registrar: peering neither
	// sends nor compares it.
	LocalRTT time.Duration
	// Probe overrides the pool's probe settings for this element, or is
	// 0 (ProbeRefOf, Probe.Spec).
	Probe ProbeRef

	// Vantage is what the vantage points of the element's last health
	// confirmation saw when they disagreed, sorted by registrar: the
	// element is disputed (see Disputed). 0 when they agreed or when
	// there was none. A number (VantagesOf, Vantage.All): writers replace
	// it.
	Vantage Vantages

	// memo is the readers' memo of the element (see ElementMemo).
	memo ptree.Cell
}

// Served reports whether the element may be in answers: up (or
// disputed: some vantage point reaches it), not drained or forced down,
// not taken out by failure reports.
func (e *Element) Served() bool {
	return (e.Health == HealthUp || e.Vantage != 0) && e.Admin == AdminAuto && !e.Reported
}

// Vantage is what one registrar's probe saw of an element when the
// element's home asked it to confirm a change of health.
type Vantage struct {
	Registrar uint32
	Health    Health
}

// Disputed reports whether the vantage points of the element's last
// health confirmation disagreed. A disputed element stays in the answers
// (some registrar reaches it), last at the registrars that cannot.
func (e *Element) Disputed() bool { return e.Vantage != 0 }

// LastAt reports whether registrar self puts e last in its answers: e is
// disputed and self saw it down in the last confirmation or, if self was
// not asked, the confirmation's verdict (e.Health) is not up.
func LastAt(e *Element, self uint32) bool {
	if e.Vantage == 0 {
		return false
	}
	for _, v := range e.Vantage.All() {
		if v.Registrar == self {
			return v.Health != HealthUp
		}
	}
	return e.Health != HealthUp
}

// Clone returns a copy that a writer may modify. It copies field by field,
// leaving out memo, which readers may be setting (TestCloneCopiesEverything
// checks that no field is forgotten).
func (e *Element) Clone() *Element {
	c := &Element{
		ID: e.ID, Label: e.Label, Port: e.Port, Transport: e.Transport,
		Weight: e.Weight, Priority: e.Priority, Load: e.Load, LoadDeg: e.LoadDeg, Site: e.Site,
		Expires: e.Expires, Health: e.Health, Home: e.Home, Static: e.Static, Owner: e.Owner, Lease: e.Lease,
		Admin: e.Admin, Reported: e.Reported, Probe: e.Probe, Vantage: e.Vantage, RTT: e.RTT, LocalRTT: e.LocalRTT, Last: e.Last,
	}
	c.Addrs = e.Addrs // never modified: shared
	return c
}

// HasV4 reports whether the element has an IPv4 address.
func (e *Element) HasV4() bool { return e.Addrs.HasV4() }

// HasV6 reports whether the element has an IPv6 address.
func (e *Element) HasV6() bool { return e.Addrs.HasV6() }

// ElementID derives the stable identifier of a zone-file element from its
// address and port, so that an element keeps its identity (and with it its
// health and load) across reloads.
func ElementID(addr netip.Addr, port uint16) uint32 {
	h := fnv.New32a()
	b := addr.As16()
	h.Write(b[:])
	h.Write([]byte{byte(port >> 8), byte(port)})
	return h.Sum32()
}

// IDString is how an element identifier is written in names, APIs and logs:
// eight lower-case hex digits.
func IDString(id uint32) string {
	const hex = "0123456789abcdef"
	var b [8]byte
	for i := len(b) - 1; i >= 0; i-- {
		b[i], id = hex[id&0xf], id>>4
	}
	return string(b[:])
}

// ParseID parses an identifier written by IDString.
func ParseID(s string) (uint32, error) {
	v, err := strconv.ParseUint(s, 16, 32)
	if err != nil || len(s) != 8 {
		return 0, fmt.Errorf("bad element identifier %q, want 8 hex digits", s)
	}
	return uint32(v), nil
}
