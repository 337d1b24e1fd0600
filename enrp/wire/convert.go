package wire

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"math"
	"net/netip"
	"strings"
	"time"

	"github.com/miekg/dns"
	"github.com/poolnsd/poolnsd/handlespace"
)

// How poolnsd's policies travel in the Member Selection Policy parameter
// (RFC 5356): the nine RFC 5356 policies under their own types, with the
// values their type defines; RSPLIB's further policies (rplu, rlud, plud,
// rplud and the -dpf family) under RSPLIB's types and layouts, the -dpf
// ones with their penalty factor and distance left 0 (see Policy); hash
// and nearest, which neither has, under poolnsd's types PolicyXHash and
// PolicyXNearest, with no value.
// Every element also carries all four values (weight, priority, load, load
// degradation) and its site and RTT in poolnsd's extension, so that a peer
// knows them whatever the pool's policy.
var policyTypes = map[string]uint32{
	"rr":      PolicyRoundRobin,
	"wrr":     PolicyWeightedRoundRobin,
	"rand":    PolicyRandom,
	"wrand":   PolicyWeightedRandom,
	"prio":    PolicyPriority,
	"lu":      PolicyLeastUsed,
	"lud":     PolicyLeastUsedDeg,
	"plu":     PolicyPriorityLeastUsed,
	"rlu":     PolicyRandomLeastUsed,
	"hash":    PolicyXHash,
	"nearest": PolicyXNearest,

	"rplu":      PolicyRandomPriorityLeastUsed,
	"rlud":      PolicyRandomLeastUsedDeg,
	"plud":      PolicyPriorityLeastUsedDeg,
	"rplud":     PolicyRandomPriorityLeastUsedDeg,
	"wrand-dpf": PolicyWeightedRandomDPF,
	"lu-dpf":    PolicyLeastUsedDPF,
	"lud-dpf":   PolicyLeastUsedDegDPF,
	"plu-dpf":   PolicyPriorityLeastUsedDPF,
	"plud-dpf":  PolicyPriorityLeastUsedDegDPF,
}

// Priorities run opposite ways: poolnsd's prio (as SRV's priority) puts
// the lowest value first, RFC 5356's Priority policy (and RSPLIB) the
// highest. The value of the Member Selection Policy parameter is therefore
// converted at this edge, so that another implementation reads it as
// poolnsd means it: wire = 2^32-1 - prio, one to one. poolnsd's own
// extension (ParamXValues) carries the element's values in poolnsd's
// meaning and, when present, wins over the policy parameter's: two
// poolnsd versions, one converting and one not, agree on every element,
// since both send and read the extension.

// prioToWire turns poolnsd's prio (lower first) into RFC 5356's priority
// (higher first).
func prioToWire(p uint32) uint32 { return math.MaxUint32 - p }

// prioFromWire turns RFC 5356's priority (higher first) into poolnsd's
// prio (lower first).
func prioFromWire(w uint32) uint32 { return math.MaxUint32 - w }

// PolicyType returns the wire type of a poolnsd policy name.
func PolicyType(name string) (uint32, bool) {
	t, ok := policyTypes[name]
	return t, ok
}

// PolicyName returns the poolnsd policy name of a wire policy type, "" if
// there is none.
func PolicyName(t uint32) string {
	for n, v := range policyTypes {
		if v == t {
			return n
		}
	}
	return ""
}

func transportParam(t handlespace.Transport) uint16 {
	switch t {
	case handlespace.TransportUDP:
		return ParamUDP
	case handlespace.TransportSCTP:
		return ParamSCTP
	}
	return ParamTCP
}

// ToPE returns the wire form of element e of a pool with the given
// policy, with ownership generation gen, at time now (for the remaining
// registration life).
func ToPE(e *handlespace.Element, policy string, gen uint32, now time.Time) PE {
	p := PE{ID: e.ID, Home: e.Home, RegLife: NoLease}
	if !e.Expires.Time().IsZero() {
		p.RegLife = clampMillis(e.Expires.Time().Sub(now).Nanoseconds())
	}
	p.Transport = Transport{Proto: transportParam(e.Transport), Port: e.Port}
	x := &ElementX{
		Label: e.Label.String(), Site: e.Site.String(),
		HasState: true, Health: uint8(e.Health), Admin: uint8(e.Admin), Gen: gen,
		RTT:       uint32(min(e.RTT.Microseconds(), math.MaxUint32)),
		HasValues: true, Weight: e.Weight, Priority: e.Priority, Load: e.Load, LoadDeg: e.LoadDeg,
	}
	x.Owner = e.Owner.String()
	if !e.Expires.Time().IsZero() {
		x.LeaseEnd = max(e.Expires.Time().UnixMilli(), 1)
	}
	if e.Lease > 0 {
		x.Lease = uint32(min(e.Lease/time.Second, math.MaxUint32))
	}
	if e.Static {
		x.Flags |= XStatic
	}
	if e.Reported {
		x.Flags |= XReported
	}
	for _, v := range e.Vantage.All() {
		x.Vantage = append(x.Vantage, VantageX{Registrar: v.Registrar, Health: uint8(v.Health)})
	}
	if p.Transport.Proto == ParamSCTP {
		p.Transport.Addrs = e.Addrs.Slice()
	} else if e.Addrs.Len() > 0 {
		p.Transport.Addrs = []netip.Addr{e.Addrs.At(0)}
		x.Addrs = e.Addrs.Slice()[1:]
	}
	if pr := e.Probe.Spec(); pr != nil {
		x.Probe = &ProbeX{Kind: pr.Kind, Target: pr.Target,
			Interval: uint32(min(pr.Interval.Milliseconds(), math.MaxUint32)),
			Timeout:  uint32(min(pr.Timeout.Milliseconds(), math.MaxUint32)),
			Rise:     uint16(min(max(pr.Rise, 0), math.MaxUint16)), Fall: uint16(min(max(pr.Fall, 0), math.MaxUint16))}
	}
	p.X = x
	t, ok := PolicyType(policy)
	if !ok {
		t = PolicyRoundRobin
	}
	p.Policy = Policy{Type: t}
	switch t {
	case PolicyWeightedRoundRobin, PolicyWeightedRandom:
		p.Policy.Weight = e.Weight
	case PolicyPriority:
		p.Policy.Priority = prioToWire(e.Priority)
	case PolicyLeastUsed, PolicyRandomLeastUsed:
		p.Policy.Load = e.Load
	case PolicyLeastUsedDeg, PolicyPriorityLeastUsed,
		PolicyRandomPriorityLeastUsed, PolicyRandomLeastUsedDeg, PolicyPriorityLeastUsedDeg, PolicyRandomPriorityLeastUsedDeg,
		PolicyLeastUsedDegDPF, PolicyPriorityLeastUsedDPF, PolicyPriorityLeastUsedDegDPF:
		p.Policy.Load, p.Policy.LoadDeg = e.Load, e.LoadDeg
	case PolicyWeightedRandomDPF:
		p.Policy.Weight = e.Weight
	case PolicyLeastUsedDPF:
		p.Policy.Load = e.Load
	}
	return p
}

// clockTolerance bounds how far a sender's absolute lease end (see
// LeaseEnd) may lie from the one its registration life gives at the
// receiver: further, and the registrars' clocks disagree (or the message
// lay in a queue that long), so the receiver counts the lease from the
// registration life, as it does an older sender's.
const clockTolerance = time.Minute

// LeaseEnd returns the end of p's lease (zero: none) at a receiver whose
// clock reads now: the sender's absolute lease end (ParamXLeaseEnd),
// which every registrar passes on unchanged, so that all hold the same
// lease end for one copy of a registration whatever the delays; from an
// older sender, or one whose clock disagrees by more than
// clockTolerance, the registration life counted from now.
func LeaseEnd(p *PE, now time.Time) time.Time {
	if p.RegLife == NoLease {
		return time.Time{}
	}
	counted := now.Add(time.Duration(max(p.RegLife, 0)) * time.Millisecond)
	if p.X == nil || p.X.LeaseEnd == 0 {
		return counted
	}
	abs := time.UnixMilli(p.X.LeaseEnd)
	d := abs.Sub(counted)
	if d < -clockTolerance || (d > clockTolerance && p.RegLife != math.MaxInt32) {
		return counted // (a registration life of MaxInt32 ms is one clamped: at least that)
	}
	return abs
}

// FromPE returns the element that a wire PE describes, the pool's policy
// name ("" for a type poolnsd does not know) and its ownership generation,
// at time now (for the lease end, see LeaseEnd). Elements that poolnsd
// cannot serve (DCCP or UDP-Lite, no port, a bad label) are errors.
func FromPE(p *PE, now time.Time) (*handlespace.Element, string, uint32, error) {
	e := &handlespace.Element{ID: p.ID, Home: p.Home, Port: p.Transport.Port, Health: handlespace.HealthUp}
	switch p.Transport.Proto {
	case ParamTCP:
		e.Transport = handlespace.TransportTCP
	case ParamUDP:
		e.Transport = handlespace.TransportUDP
	case ParamSCTP:
		e.Transport = handlespace.TransportSCTP
	default:
		return nil, "", 0, fmt.Errorf("element %s: transport parameter 0x%04x is not one poolnsd serves (TCP, UDP, SCTP)", handlespace.IDString(p.ID), p.Transport.Proto)
	}
	if e.Port == 0 {
		return nil, "", 0, fmt.Errorf("element %s: port 0", handlespace.IDString(p.ID))
	}
	e.Addrs = handlespace.AddrsOf(p.Transport.Addrs...)
	e.Expires = handlespace.ExpiryOf(LeaseEnd(p, now))
	switch p.Policy.Type {
	case PolicyWeightedRoundRobin, PolicyWeightedRandom:
		e.Weight = p.Policy.Weight
	case PolicyPriority:
		e.Priority = prioFromWire(p.Policy.Priority)
	case PolicyLeastUsed, PolicyRandomLeastUsed:
		e.Load = p.Policy.Load
	case PolicyLeastUsedDeg, PolicyPriorityLeastUsed,
		PolicyRandomPriorityLeastUsed, PolicyRandomLeastUsedDeg, PolicyPriorityLeastUsedDeg, PolicyRandomPriorityLeastUsedDeg,
		PolicyLeastUsedDegDPF, PolicyPriorityLeastUsedDPF, PolicyPriorityLeastUsedDegDPF:
		e.Load, e.LoadDeg = p.Policy.Load, p.Policy.LoadDeg
	case PolicyWeightedRandomDPF:
		e.Weight = p.Policy.Weight
	case PolicyLeastUsedDPF:
		e.Load = p.Policy.Load
	}
	var gen uint32
	e.Label = handlespace.LabelOf(handlespace.IDString(p.ID))
	if x := p.X; x != nil {
		if x.Label != "" {
			e.Label = handlespace.LabelOf(strings.ToLower(x.Label))
		}
		e.Site = handlespace.SiteNameOf(x.Site)
		e.Owner = handlespace.OwnerOf(x.Owner)
		e.Lease = time.Duration(x.Lease) * time.Second
		if x.HasState {
			if x.Health > uint8(handlespace.HealthDown) || x.Admin > uint8(handlespace.AdminForceDown) {
				return nil, "", 0, fmt.Errorf("element %s: unknown health %d or admin state %d", handlespace.IDString(p.ID), x.Health, x.Admin)
			}
			e.Health, e.Admin = handlespace.Health(x.Health), handlespace.Admin(x.Admin)
			e.Static, e.Reported = x.Flags&XStatic != 0, x.Flags&XReported != 0
			e.RTT = time.Duration(x.RTT) * time.Microsecond
			gen = x.Gen
		}
		if x.HasValues {
			e.Weight, e.Priority, e.Load, e.LoadDeg = x.Weight, x.Priority, x.Load, x.LoadDeg
		}
		var vs []handlespace.Vantage
		for _, v := range x.Vantage {
			if v.Health > uint8(handlespace.HealthDown) {
				return nil, "", 0, fmt.Errorf("element %s: vantage point %s saw unknown health %d", handlespace.IDString(p.ID), handlespace.IDString(v.Registrar), v.Health)
			}
			vs = append(vs, handlespace.Vantage{Registrar: v.Registrar, Health: handlespace.Health(v.Health)})
		}
		e.Vantage = handlespace.VantagesOf(vs)
		if pr := x.Probe; pr != nil {
			e.Probe = handlespace.ProbeRefOf(&handlespace.ProbeSpec{Kind: pr.Kind, Target: pr.Target,
				Interval: time.Duration(pr.Interval) * time.Millisecond, Timeout: time.Duration(pr.Timeout) * time.Millisecond,
				Rise: int(pr.Rise), Fall: int(pr.Fall)})
		}
		e.Addrs = e.Addrs.Append(x.Addrs...)
	}
	if err := e.Label.Check(); err != nil {
		return nil, "", 0, fmt.Errorf("element %s: %v", handlespace.IDString(p.ID), err)
	}
	// As a registration would be refused (but loopback, which the home's
	// configuration allowed: a cluster on one host has such elements).
	for _, a := range e.Addrs.All() {
		if err := handlespace.CheckAddr(a, true); err != nil {
			return nil, "", 0, fmt.Errorf("element %s: bad address %v", handlespace.IDString(p.ID), err)
		}
	}
	return e, PolicyName(p.Policy.Type), gen, nil
}

// PoolName normalises a pool handle from the wire to poolnsd's form, a
// lower-case FQDN, or fails: a name that handlespace.CheckPoolName
// refuses (DNS cannot carry it, or its handle is no label a registration
// may have) is not taken from a peer either.
func PoolName(handle []byte) (string, error) {
	s := strings.ToLower(string(handle))
	if _, ok := dns.IsDomainName(s); !ok || !strings.HasSuffix(s, ".") || s == "." {
		return "", fmt.Errorf("pool handle %q is not a domain name", handle)
	}
	if err := handlespace.CheckPoolName(s); err != nil {
		return "", fmt.Errorf("pool handle %q: %v", handle, err)
	}
	return s, nil
}

// ContentHash is the hash of an element's contents that the ownership
// digest sums: everything ENRP carries of it except the lease, each as it
// survives the wire (RTT in microseconds, probe times in milliseconds).
func ContentHash(pool, policy string, e *handlespace.Element, gen uint32) uint64 {
	h := fnv.New64a()
	var b [8]byte
	u32 := func(v uint32) { binary.BigEndian.PutUint32(b[:4], v); h.Write(b[:4]) }
	str := func(s string) { u32(uint32(len(s))); h.Write([]byte(s)) }
	str(pool)
	str(policy)
	u32(e.ID)
	u32(e.Home)
	u32(gen)
	str(e.Label.String())
	u32(uint32(e.Addrs.Len()))
	for _, a := range e.Addrs.All() {
		x := a.As16()
		h.Write(x[:])
	}
	u32(uint32(e.Port)<<8 | uint32(e.Transport))
	u32(e.Weight)
	u32(e.Priority)
	u32(e.Load)
	u32(e.LoadDeg)
	str(e.Site.String())
	str(e.Owner.String())
	u32(uint32(min(e.Lease/time.Second, math.MaxUint32)))
	var flags uint32
	if e.Static {
		flags |= 1
	}
	if e.Reported {
		flags |= 2
	}
	u32(uint32(e.Health)<<16 | uint32(e.Admin)<<8 | flags)
	u32(uint32(min(e.RTT.Microseconds(), math.MaxUint32)))
	if pr := e.Probe.Spec(); pr != nil {
		str(pr.Kind)
		str(pr.Target)
		u32(uint32(min(pr.Interval.Milliseconds(), math.MaxUint32)))
		u32(uint32(min(pr.Timeout.Milliseconds(), math.MaxUint32)))
		u32(uint32(pr.Rise)<<16 | uint32(pr.Fall)&0xffff)
	}
	for _, v := range e.Vantage.All() {
		u32(v.Registrar)
		u32(uint32(v.Health) | 0x100)
	}
	x := h.Sum64()
	x ^= x >> 31
	x *= 0x7fb5d329728ea185
	x ^= x >> 27
	return x
}
