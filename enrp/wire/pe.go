package wire

import (
	"encoding/binary"
	"net/netip"
	"unicode/utf8"
)

// Transport is a transport parameter (RFC 5354): a protocol, a
// port and addresses.
type Transport struct {
	// Proto is the parameter type: ParamTCP, ParamUDP, ParamSCTP,
	// ParamDCCP or ParamUDPLite.
	Proto uint16
	Port  uint16
	// Use is the transport use of TCP and SCTP (UseDataOnly,
	// UseDataAndControl); 0 for the others (a reserved field).
	Use uint16
	// ServiceCode is DCCP's service code; 0 for the others.
	ServiceCode uint32
	// Addrs are the addresses: one or more for SCTP, exactly one for the
	// others.
	Addrs []netip.Addr
}

func isTransport(t uint16) bool {
	switch t {
	case ParamTCP, ParamUDP, ParamSCTP, ParamDCCP, ParamUDPLite:
		return true
	}
	return false
}

func isAddr(t uint16) bool { return t == ParamIPv4 || t == ParamIPv6 }

func (e *enc) addr(a netip.Addr) {
	if a.Is4() {
		e.param(ParamIPv4, func() { b := a.As4(); e.b = append(e.b, b[:]...) })
		return
	}
	e.param(ParamIPv6, func() { b := a.As16(); e.b = append(e.b, b[:]...) })
}

func (e *enc) transport(t *Transport) {
	e.param(t.Proto, func() {
		e.u16(t.Port)
		switch t.Proto {
		case ParamDCCP:
			e.u16(0)
			e.u32(t.ServiceCode)
		case ParamTCP, ParamSCTP:
			e.u16(t.Use)
		default:
			e.u16(0)
		}
		for _, a := range t.Addrs {
			e.addr(a)
		}
	})
}

func (w *walker) addrParam(p param) (netip.Addr, error) {
	switch {
	case p.typ == ParamIPv4 && len(p.val) == 4:
		return netip.AddrFrom4([4]byte(p.val)), nil
	case p.typ == ParamIPv6 && len(p.val) == 16:
		return netip.AddrFrom16([16]byte(p.val)), nil
	}
	return netip.Addr{}, Malformed(p.off, "address parameter 0x%04x has %d bytes of value, want 4 (IPv4) or 16 (IPv6)", p.typ, len(p.val))
}

func (w *walker) transport(p param) (*Transport, error) {
	fixed := 4
	if p.typ == ParamDCCP {
		fixed = 8
	}
	if len(p.val) < fixed {
		return nil, Malformed(p.off, "transport parameter 0x%04x is %d bytes long, too short", p.typ, len(p.raw))
	}
	t := &Transport{Proto: p.typ, Port: binary.BigEndian.Uint16(p.val)}
	switch p.typ {
	case ParamDCCP:
		t.ServiceCode = binary.BigEndian.Uint32(p.val[4:])
	case ParamTCP, ParamSCTP:
		t.Use = binary.BigEndian.Uint16(p.val[2:])
	}
	ps, err := splitParams(p.val[fixed:], p.off+ParamHeaderLen+fixed)
	if err != nil {
		return nil, err
	}
	if ps, err = w.filter(ps, isAddr); err != nil {
		return nil, err
	}
	for _, q := range ps {
		a, err := w.addrParam(q)
		if err != nil {
			return nil, err
		}
		t.Addrs = append(t.Addrs, a)
	}
	switch {
	case len(t.Addrs) == 0:
		return nil, Malformed(p.off, "transport parameter 0x%04x has no address", p.typ)
	case len(t.Addrs) > 1 && p.typ != ParamSCTP:
		return nil, Malformed(p.off, "transport parameter 0x%04x has %d addresses; only SCTP may have more than one", p.typ, len(t.Addrs))
	}
	return t, nil
}

// Policy is a member selection policy parameter (RFC 5354, RFC 5356):
// the policy type and the element's values for it.
type Policy struct {
	Type uint32
	// The values that Type carries: Weight (wrr, wrand), Priority (prio:
	// RFC 5356's, the highest preferred; ToPE and FromPE convert poolnsd's
	// lowest-first prio), Load (lu, rlu, lud, plu), LoadDeg (lud, plu).
	// The others are zero. RSPLIB's policies carry Load and LoadDeg too
	// (rplu, rlud, plud, rplud: both; lu-dpf: Load; wrand-dpf: Weight).
	Weight, Priority, Load, LoadDeg uint32
	// DPF and Distance are the distance penalty factor (RSPLIB's load
	// or weight DPF) and the distance in milliseconds that the -dpf
	// types carry. poolnsd sends 0 for both and ignores them: each
	// registrar applies its own pool's factor to its own measure of
	// the distance (see handlespace's -dpf policies).
	DPF, Distance uint32
	// Value is the value of a type this code does not know, as received.
	Value []byte
}

// policyFields returns how many 32-bit values a known policy type carries,
// or -1 for an unknown type.
func policyFields(t uint32) int {
	switch t {
	case PolicyRoundRobin, PolicyRandom, PolicyXHash, PolicyXNearest:
		return 0
	case PolicyWeightedRoundRobin, PolicyWeightedRandom, PolicyPriority, PolicyLeastUsed, PolicyRandomLeastUsed:
		return 1
	case PolicyLeastUsedDeg, PolicyPriorityLeastUsed,
		PolicyRandomPriorityLeastUsed, PolicyRandomLeastUsedDeg, PolicyPriorityLeastUsedDeg, PolicyRandomPriorityLeastUsedDeg:
		return 2
	case PolicyWeightedRandomDPF, PolicyLeastUsedDPF:
		return 3
	case PolicyLeastUsedDegDPF, PolicyPriorityLeastUsedDPF, PolicyPriorityLeastUsedDegDPF:
		return 4
	}
	return -1
}

func (e *enc) policy(p *Policy) {
	e.param(ParamPolicy, func() {
		e.u32(p.Type)
		switch p.Type {
		case PolicyWeightedRoundRobin, PolicyWeightedRandom:
			e.u32(p.Weight)
		case PolicyPriority:
			e.u32(p.Priority)
		case PolicyLeastUsed, PolicyRandomLeastUsed:
			e.u32(p.Load)
		case PolicyLeastUsedDeg, PolicyPriorityLeastUsed,
			PolicyRandomPriorityLeastUsed, PolicyRandomLeastUsedDeg, PolicyPriorityLeastUsedDeg, PolicyRandomPriorityLeastUsedDeg:
			e.u32(p.Load)
			e.u32(p.LoadDeg)
		case PolicyWeightedRandomDPF:
			e.u32(p.Weight)
			e.u32(p.DPF)
			e.u32(p.Distance)
		case PolicyLeastUsedDPF:
			e.u32(p.Load)
			e.u32(p.DPF)
			e.u32(p.Distance)
		case PolicyLeastUsedDegDPF, PolicyPriorityLeastUsedDPF, PolicyPriorityLeastUsedDegDPF:
			e.u32(p.Load)
			e.u32(p.LoadDeg)
			e.u32(p.DPF)
			e.u32(p.Distance)
		default:
			if policyFields(p.Type) < 0 {
				e.b = append(e.b, p.Value...)
			}
		}
	})
}

func (w *walker) policy(p param) (*Policy, error) {
	if len(p.val) < 4 {
		return nil, Malformed(p.off, "policy parameter has %d bytes of value, want at least 4", len(p.val))
	}
	pol := &Policy{Type: binary.BigEndian.Uint32(p.val)}
	v := p.val[4:]
	n := policyFields(pol.Type)
	if n < 0 {
		pol.Value = clone(v)
		return pol, nil
	}
	if len(v) != 4*n {
		return nil, Malformed(p.off, "policy 0x%08x has %d bytes of values, want %d", pol.Type, len(v), 4*n)
	}
	u := func(i int) uint32 { return binary.BigEndian.Uint32(v[4*i:]) }
	switch pol.Type {
	case PolicyWeightedRoundRobin, PolicyWeightedRandom:
		pol.Weight = u(0)
	case PolicyPriority:
		pol.Priority = u(0)
	case PolicyLeastUsed, PolicyRandomLeastUsed:
		pol.Load = u(0)
	case PolicyLeastUsedDeg, PolicyPriorityLeastUsed,
		PolicyRandomPriorityLeastUsed, PolicyRandomLeastUsedDeg, PolicyPriorityLeastUsedDeg, PolicyRandomPriorityLeastUsedDeg:
		pol.Load, pol.LoadDeg = u(0), u(1)
	case PolicyWeightedRandomDPF:
		pol.Weight, pol.DPF, pol.Distance = u(0), u(1), u(2)
	case PolicyLeastUsedDPF:
		pol.Load, pol.DPF, pol.Distance = u(0), u(1), u(2)
	case PolicyLeastUsedDegDPF, PolicyPriorityLeastUsedDPF, PolicyPriorityLeastUsedDegDPF:
		pol.Load, pol.LoadDeg, pol.DPF, pol.Distance = u(0), u(1), u(2), u(3)
	}
	return pol, nil
}

// NoLease is the registration life of an element without a lease (one that
// a zone file defines): -1.
const NoLease int32 = -1

// PE is a Pool Element parameter (RFC 5354).
type PE struct {
	ID   uint32 // PE identifier
	Home uint32 // home ENRP server identifier
	// RegLife is the registration life in milliseconds, NoLease for none.
	RegLife int32
	// Transport is the user transport.
	Transport Transport
	// Policy is the member selection policy and the element's values.
	Policy Policy
	// ASAP is the ASAP transport, if the parameter had one (poolnsd sends
	// none: its pool elements do not speak ASAP).
	ASAP *Transport
	// X is poolnsd's extension, nil if absent.
	X *ElementX
}

// ElementX is poolnsd's extension of a Pool Element parameter
// (ParamXElement): what DNS answers and probes need beyond RFC 5354.
type ElementX struct {
	Label string // the element's own DNS label
	Site  string // site= for the nearest policy

	// State (ParamXState).
	HasState bool
	Health   uint8 // handlespace.Health: 0 unknown, 1 up, 2 down
	Admin    uint8 // handlespace.Admin: 0 auto, 1 drain, 2 force-down
	Flags    uint8 // XStatic, XReported, XTrimmed
	// Strength is one more than the sender's strength (see Node: how
	// many registrars its knowledge of the zone-file elements comes from,
	// up to 254), 0 unknown (older senders leave it 0): between two
	// registrars that each were home of a zone-file element (the two
	// sides of a healed partition), the stronger one's state is the
	// current one.
	Strength uint8
	Gen      uint32 // ownership generation: higher wins (see Node)
	RTT      uint32 // smoothed probe RTT in microseconds, 0 unknown

	// Values (ParamXValues): all four policy values, whatever the policy.
	HasValues                       bool
	Weight, Priority, Load, LoadDeg uint32

	// Probe is the element's own probe settings, nil for the pool's.
	Probe *ProbeX

	// Owner is who registered the element (ParamXOwner), "" unknown.
	Owner string
	// Lease is the lease last granted in seconds (ParamXLease), 0 unknown.
	Lease uint32

	// Addrs are the element's addresses after the first, which a TCP or
	// UDP transport parameter has no room for.
	Addrs []netip.Addr

	// AdminReq (ParamXAdminReq), in a HANDLE_UPDATE to the element's home,
	// asks the home to set the element's administrative state to ReqAdmin
	// (a handlespace.Admin); the rest of the element is the sender's copy,
	// for identification only.
	AdminReq bool
	ReqAdmin uint8

	// ReportReq (ParamXReportReq), in a HANDLE_UPDATE to the element's
	// home, passes on a pool user's failure report of the element made at
	// the sender; Reporter is the address the report came from (invalid
	// if unknown). The rest of the element is for identification only.
	ReportReq bool
	Reporter  netip.Addr

	// ConfirmReq (ParamXConfirmReq), in a HANDLE_UPDATE from the
	// element's home, asks the receiver to probe the element once and
	// answer (ConfirmAns); nil if absent.
	ConfirmReq *ConfirmReq
	// ConfirmAns (ParamXConfirmAns), in a HANDLE_UPDATE to the element's
	// home, answers its ConfirmReq; nil if absent.
	ConfirmAns *ConfirmAns
	// Vantage (ParamXVantage) is what the vantage points of the element's
	// last confirmation saw, when they disagreed.
	Vantage []VantageX
	// Reports (ParamXReports), in a hand-off page, is how many failure
	// reports of the element the old home counted within its window.
	Reports uint32
	// LeaseEnd (ParamXLeaseEnd) is the end of the element's lease in
	// milliseconds since the Unix epoch, 0 absent (no lease, or an older
	// sender).
	LeaseEnd int64
}

// ConfirmReq is a home's request to probe an element once
// (ParamXConfirmReq).
type ConfirmReq struct {
	Nonce uint32
	// Budget is how long the receiver has, from the request's arrival,
	// to answer, in milliseconds (the home's wait less their round
	// trip): an answer later than that does not count.
	Budget uint16
	// Proposed is the health (a handlespace.Health) the home's own probes
	// propose.
	Proposed uint8
}

// ConfirmAns is a vantage point's answer to a ConfirmReq
// (ParamXConfirmAns).
type ConfirmAns struct {
	Nonce uint32
	// Health is what the probe saw (a handlespace.Health): up or down, or
	// unknown when the receiver could not probe (busy, no such probe
	// kind).
	Health uint8
	// RTT is the probe's round-trip time in microseconds.
	RTT uint32
}

// VantageX is one vantage point's view of an element (ParamXVantage).
type VantageX struct {
	Registrar uint32
	Health    uint8
}

// maxVantage bounds the vantage points one element lists.
const maxVantage = 64

// ElementX flags.
const (
	XStatic   uint8 = 0x01 // defined by a zone file
	XReported uint8 = 0x02 // out of the answers by failure reports
	// XTrimmed: a zone-file element's state only (a push, see
	// SyncPage): its label, site, probe settings, further addresses,
	// owner and lease are left out, the receiver's zone file gives them.
	XTrimmed uint8 = 0x04
)

// ProbeX is an element's own probe settings (ParamXProbe).
type ProbeX struct {
	Kind     string
	Target   string
	Interval uint32 // milliseconds
	Timeout  uint32 // milliseconds
	Rise     uint16
	Fall     uint16
}

func (e *enc) str(s string) {
	if len(s) > 255 {
		s = s[:255]
	}
	e.u8(uint8(len(s)))
	e.b = append(e.b, s...)
}

func (e *enc) elementX(x *ElementX) {
	e.param(ParamXElement, func() {
		if x.Label != "" {
			e.bytesParam(ParamXLabel, []byte(x.Label))
		}
		if x.Site != "" {
			e.bytesParam(ParamXSite, []byte(x.Site))
		}
		if x.HasState {
			e.param(ParamXState, func() {
				e.u8(x.Health)
				e.u8(x.Admin)
				e.u8(x.Flags)
				e.u8(x.Strength)
				e.u32(x.Gen)
				e.u32(x.RTT)
			})
		}
		if x.HasValues {
			e.param(ParamXValues, func() {
				e.u32(x.Weight)
				e.u32(x.Priority)
				e.u32(x.Load)
				e.u32(x.LoadDeg)
			})
		}
		if p := x.Probe; p != nil {
			e.param(ParamXProbe, func() {
				e.u32(p.Interval)
				e.u32(p.Timeout)
				e.u16(p.Rise)
				e.u16(p.Fall)
				e.str(p.Kind)
				e.str(p.Target)
			})
		}
		if x.Owner != "" {
			e.bytesParam(ParamXOwner, []byte(x.Owner))
		}
		if x.Lease != 0 {
			e.param(ParamXLease, func() { e.u32(x.Lease) })
		}
		for _, a := range x.Addrs {
			e.addr(a)
		}
		if x.AdminReq {
			e.param(ParamXAdminReq, func() { e.u32(uint32(x.ReqAdmin) << 24) })
		}
		if x.ReportReq {
			e.param(ParamXReportReq, func() {
				if x.Reporter.IsValid() {
					e.b = append(e.b, x.Reporter.Unmap().AsSlice()...)
				}
			})
		}
		if r := x.ConfirmReq; r != nil {
			e.param(ParamXConfirmReq, func() {
				e.u32(r.Nonce)
				e.u16(r.Budget)
				e.u8(r.Proposed)
				e.u8(0)
			})
		}
		if a := x.ConfirmAns; a != nil {
			e.param(ParamXConfirmAns, func() {
				e.u32(a.Nonce)
				e.u32(uint32(a.Health) << 24)
				e.u32(a.RTT)
			})
		}
		if len(x.Vantage) > 0 {
			e.param(ParamXVantage, func() {
				for _, v := range x.Vantage[:min(len(x.Vantage), maxVantage)] {
					e.u32(v.Registrar)
					e.u32(uint32(v.Health) << 24)
				}
			})
		}
		if x.Reports != 0 {
			e.param(ParamXReports, func() { e.u32(x.Reports) })
		}
		if x.LeaseEnd != 0 {
			e.param(ParamXLeaseEnd, func() { e.b = binary.BigEndian.AppendUint64(e.b, uint64(x.LeaseEnd)) })
		}
	})
}

func readStr(b []byte) (string, []byte, bool) {
	if len(b) < 1 || len(b)-1 < int(b[0]) {
		return "", nil, false
	}
	n := int(b[0])
	return string(b[1 : 1+n]), b[1+n:], true
}

func (w *walker) elementX(p param) (*ElementX, error) {
	ps, err := splitParams(p.val, p.off+ParamHeaderLen)
	if err != nil {
		return nil, err
	}
	if ps, err = w.filter(ps, is(ParamXLabel, ParamXSite, ParamXState, ParamXValues, ParamXProbe, ParamXOwner, ParamXLease, ParamXAdminReq, ParamXReportReq,
		ParamXConfirmReq, ParamXConfirmAns, ParamXVantage, ParamXReports, ParamXLeaseEnd, ParamIPv4, ParamIPv6)); err != nil {
		return nil, err
	}
	x := &ElementX{}
	seen := map[uint16]bool{}
	for _, q := range ps {
		if seen[q.typ] && !isAddr(q.typ) {
			return nil, Malformed(q.off, "parameter 0x%04x twice in one element", q.typ)
		}
		seen[q.typ] = true
		switch q.typ {
		case ParamXLabel, ParamXSite, ParamXOwner:
			if len(q.val) == 0 || len(q.val) > 255 || !utf8.Valid(q.val) {
				return nil, Malformed(q.off, "parameter 0x%04x: want 1 to 255 bytes of UTF-8, have %d", q.typ, len(q.val))
			}
			switch q.typ {
			case ParamXLabel:
				x.Label = string(q.val)
			case ParamXSite:
				x.Site = string(q.val)
			default:
				x.Owner = string(q.val)
			}
		case ParamXLease:
			if len(q.val) != 4 || binary.BigEndian.Uint32(q.val) == 0 {
				return nil, Malformed(q.off, "element lease: want 4 bytes, not zero")
			}
			x.Lease = binary.BigEndian.Uint32(q.val)
		case ParamXAdminReq:
			if len(q.val) != 4 {
				return nil, Malformed(q.off, "admin request has %d bytes of value, want 4", len(q.val))
			}
			x.AdminReq, x.ReqAdmin = true, q.val[0]
		case ParamXReportReq:
			switch len(q.val) {
			case 0:
			case 4, 16:
				a, _ := netip.AddrFromSlice(q.val)
				x.Reporter = a.Unmap()
			default:
				return nil, Malformed(q.off, "failure report has %d bytes of address, want 0, 4 or 16", len(q.val))
			}
			x.ReportReq = true
		case ParamXConfirmReq:
			if len(q.val) != 8 {
				return nil, Malformed(q.off, "confirmation request has %d bytes of value, want 8", len(q.val))
			}
			x.ConfirmReq = &ConfirmReq{Nonce: binary.BigEndian.Uint32(q.val), Budget: binary.BigEndian.Uint16(q.val[4:]), Proposed: q.val[6]}
		case ParamXConfirmAns:
			if len(q.val) != 12 {
				return nil, Malformed(q.off, "confirmation answer has %d bytes of value, want 12", len(q.val))
			}
			x.ConfirmAns = &ConfirmAns{Nonce: binary.BigEndian.Uint32(q.val), Health: q.val[4], RTT: binary.BigEndian.Uint32(q.val[8:])}
		case ParamXVantage:
			if len(q.val) == 0 || len(q.val)%8 != 0 || len(q.val) > 8*maxVantage {
				return nil, Malformed(q.off, "vantage list has %d bytes of value, want a multiple of 8 from 8 to %d", len(q.val), 8*maxVantage)
			}
			for i := 0; i < len(q.val); i += 8 {
				x.Vantage = append(x.Vantage, VantageX{Registrar: binary.BigEndian.Uint32(q.val[i:]), Health: q.val[i+4]})
			}
		case ParamXReports:
			if len(q.val) != 4 || binary.BigEndian.Uint32(q.val) == 0 {
				return nil, Malformed(q.off, "report count: want 4 bytes, not zero")
			}
			x.Reports = binary.BigEndian.Uint32(q.val)
		case ParamXLeaseEnd:
			if len(q.val) != 8 || binary.BigEndian.Uint64(q.val) == 0 {
				return nil, Malformed(q.off, "lease end: want 8 bytes, not zero")
			}
			x.LeaseEnd = int64(binary.BigEndian.Uint64(q.val))
		case ParamXState:
			if len(q.val) != 12 {
				return nil, Malformed(q.off, "element state has %d bytes of value, want 12", len(q.val))
			}
			x.HasState = true
			x.Health, x.Admin, x.Flags, x.Strength = q.val[0], q.val[1], q.val[2], q.val[3]
			x.Gen = binary.BigEndian.Uint32(q.val[4:])
			x.RTT = binary.BigEndian.Uint32(q.val[8:])
		case ParamXValues:
			if len(q.val) != 16 {
				return nil, Malformed(q.off, "element values have %d bytes, want 16", len(q.val))
			}
			x.HasValues = true
			x.Weight = binary.BigEndian.Uint32(q.val)
			x.Priority = binary.BigEndian.Uint32(q.val[4:])
			x.Load = binary.BigEndian.Uint32(q.val[8:])
			x.LoadDeg = binary.BigEndian.Uint32(q.val[12:])
		case ParamXProbe:
			if len(q.val) < 12 {
				return nil, Malformed(q.off, "element probe has %d bytes, want at least 14", len(q.val))
			}
			pr := &ProbeX{
				Interval: binary.BigEndian.Uint32(q.val),
				Timeout:  binary.BigEndian.Uint32(q.val[4:]),
				Rise:     binary.BigEndian.Uint16(q.val[8:]),
				Fall:     binary.BigEndian.Uint16(q.val[10:]),
			}
			rest := q.val[12:]
			var ok1, ok2 bool
			pr.Kind, rest, ok1 = readStr(rest)
			if ok1 {
				pr.Target, rest, ok2 = readStr(rest)
			}
			if !ok1 || !ok2 || len(rest) != 0 || !utf8.ValidString(pr.Kind) || !utf8.ValidString(pr.Target) {
				return nil, Malformed(q.off, "element probe: bad kind or target strings")
			}
			x.Probe = pr
		case ParamIPv4, ParamIPv6:
			a, err := w.addrParam(q)
			if err != nil {
				return nil, err
			}
			x.Addrs = append(x.Addrs, a)
		}
	}
	return x, nil
}

func (e *enc) pe(p *PE) {
	e.param(ParamPoolElement, func() {
		e.u32(p.ID)
		e.u32(p.Home)
		e.u32(uint32(p.RegLife))
		e.transport(&p.Transport)
		e.policy(&p.Policy)
		if p.ASAP != nil {
			e.transport(p.ASAP)
		}
		if p.X != nil {
			e.elementX(p.X)
		}
	})
}

func (w *walker) pe(p param) (*PE, error) {
	if len(p.val) < 12 {
		return nil, Malformed(p.off, "pool element parameter is %d bytes long, want at least 16", len(p.raw))
	}
	pe := &PE{
		ID:      binary.BigEndian.Uint32(p.val),
		Home:    binary.BigEndian.Uint32(p.val[4:]),
		RegLife: int32(binary.BigEndian.Uint32(p.val[8:])),
	}
	ps, err := splitParams(p.val[12:], p.off+ParamHeaderLen+12)
	if err != nil {
		return nil, err
	}
	if ps, err = w.filter(ps, func(t uint16) bool { return isTransport(t) || t == ParamPolicy || t == ParamXElement }); err != nil {
		return nil, err
	}
	var user, pol bool
	for _, q := range ps {
		switch {
		case isTransport(q.typ):
			t, err := w.transport(q)
			if err != nil {
				return nil, err
			}
			switch {
			case !user:
				pe.Transport, user = *t, true
			case pe.ASAP == nil:
				pe.ASAP = t
			default:
				return nil, Malformed(q.off, "pool element %08x has more than two transport parameters", pe.ID)
			}
		case q.typ == ParamPolicy:
			if pol {
				return nil, Malformed(q.off, "pool element %08x has two policy parameters", pe.ID)
			}
			pp, err := w.policy(q)
			if err != nil {
				return nil, err
			}
			pe.Policy, pol = *pp, true
		case q.typ == ParamXElement:
			if pe.X != nil {
				return nil, Malformed(q.off, "pool element %08x has two poolnsd extensions", pe.ID)
			}
			if pe.X, err = w.elementX(q); err != nil {
				return nil, err
			}
		}
	}
	if !user || !pol {
		return nil, Malformed(p.off, "pool element %08x lacks its user transport or policy parameter", pe.ID)
	}
	return pe, nil
}

// ServerInfo is a Server Information parameter (RFC 5354): a
// registrar's ID and the transport its peers reach it on.
type ServerInfo struct {
	ID        uint32
	Transport Transport
}

func (e *enc) serverInfo(s *ServerInfo) {
	e.param(ParamServerInfo, func() {
		e.u32(s.ID)
		e.transport(&s.Transport)
	})
}

func (w *walker) serverInfo(p param) (*ServerInfo, error) {
	if len(p.val) < 4 {
		return nil, Malformed(p.off, "server information parameter is %d bytes long, want at least 8", len(p.raw))
	}
	s := &ServerInfo{ID: binary.BigEndian.Uint32(p.val)}
	ps, err := splitParams(p.val[4:], p.off+ParamHeaderLen+4)
	if err != nil {
		return nil, err
	}
	if ps, err = w.filter(ps, isTransport); err != nil {
		return nil, err
	}
	if len(ps) != 1 {
		return nil, Malformed(p.off, "server information of %08x has %d transport parameters, want 1", s.ID, len(ps))
	}
	t, err := w.transport(ps[0])
	if err != nil {
		return nil, err
	}
	s.Transport = *t
	return s, nil
}

// Cause is one error cause of an Operation Error parameter (RFC 5354
// §3.11).
type Cause struct {
	Code uint16
	// Info is the cause-specific information: a parameter (unrecognized
	// parameter, invalid values, inconsistent policy or transport), a
	// message (unrecognized message), or nothing.
	Info []byte
}

func (e *enc) causes(cs []Cause) {
	e.param(ParamOpError, func() {
		for _, c := range cs {
			// A cause is laid out as a parameter: code, length, info,
			// padding.
			e.bytesParam(c.Code, c.Info)
		}
	})
}

func (w *walker) causes(p param) ([]Cause, error) {
	var out []Cause
	b := p.val
	for off := 0; off < len(b); {
		if len(b)-off < 4 {
			return nil, Malformed(p.off+ParamHeaderLen+off, "%d stray bytes after the last error cause", len(b)-off)
		}
		code := binary.BigEndian.Uint16(b[off:])
		n := int(binary.BigEndian.Uint16(b[off+2:]))
		if n < 4 || n > len(b)-off {
			return nil, Malformed(p.off+ParamHeaderLen+off+2, "error cause %d has length %d, want 4 to %d", code, n, len(b)-off)
		}
		out = append(out, Cause{Code: code, Info: clone(b[off+4 : off+n])})
		off += min(Pad4(n), len(b)-off)
	}
	if len(out) == 0 {
		return nil, Malformed(p.off, "operation error parameter without a cause")
	}
	return out, nil
}

// Refused names the request an ERROR refuses (ParamXRefused): a request
// parameter (ParamXAdminReq, ParamXReportReq) for element ID of the pool
// whose handle is Handle, and why, as a Refused… reason. The ERROR's
// Operation Error cause says it in words.
type Refused struct {
	Request uint16
	Reason  uint8
	ID      uint32
	Handle  []byte
}

// Reasons of a Refused.
const (
	// RefusedNotHome: the receiver is not the element's home.
	RefusedNotHome uint8 = 1
	// RefusedNoElement: the receiver does not know the element.
	RefusedNoElement uint8 = 2
	// RefusedBadRequest: the request's value is not one the receiver
	// knows (an administrative state of a newer version).
	RefusedBadRequest uint8 = 3
	// RefusedFailed: the home took the request but could not carry it out
	// (a store write failed, too many reports from the reporter).
	RefusedFailed uint8 = 4
)

func (e *enc) refused(r *Refused) {
	e.param(ParamXRefused, func() {
		e.u16(r.Request)
		e.u8(r.Reason)
		e.u8(0)
		e.u32(r.ID)
		e.b = append(e.b, r.Handle...)
	})
}

func (w *walker) refused(p param) (*Refused, error) {
	if len(p.val) < 8 {
		return nil, Malformed(p.off, "refused-request parameter has %d bytes of value, want at least 8", len(p.val))
	}
	return &Refused{
		Request: binary.BigEndian.Uint16(p.val),
		Reason:  p.val[2],
		ID:      binary.BigEndian.Uint32(p.val[4:]),
		Handle:  clone(p.val[8:]),
	}, nil
}

// MaxSize is an upper bound of p's encoded size as a Pool Element
// parameter, for filling pages of a size.
func (p *PE) MaxSize() int {
	s := ParamHeaderLen + 12
	s += ParamHeaderLen + 4 + 20*len(p.Transport.Addrs) // user transport
	s += ParamHeaderLen + 12                            // policy
	if x := p.X; x != nil {
		s += ParamHeaderLen
		s += ParamHeaderLen + Pad4(len(x.Label)) + ParamHeaderLen + Pad4(len(x.Site))
		s += ParamHeaderLen + 12 + ParamHeaderLen + 16
		s += ParamHeaderLen + 8 // lease end
		s += 20 * len(x.Addrs)
		if x.Probe != nil {
			s += ParamHeaderLen + 12 + Pad4(2+len(x.Probe.Kind)+len(x.Probe.Target))
		}
	}
	return s
}
