package wire

import (
	"time"

	"github.com/poolnsd/poolnsd/handlespace"
)

// SameElement reports whether two elements are alike in everything ENRP
// carries, the lease end included (to the millisecond).
func SameElement(a, b *handlespace.Element) bool {
	if a == b {
		return true
	}
	if a.ID != b.ID || a.Label.String() != b.Label.String() || a.Port != b.Port || a.Transport != b.Transport ||
		a.Weight != b.Weight || a.Priority != b.Priority || a.Load != b.Load || a.LoadDeg != b.LoadDeg ||
		a.Site.String() != b.Site.String() || a.Health != b.Health || a.Home != b.Home || a.Static != b.Static ||
		a.Admin != b.Admin || a.Reported != b.Reported || a.RTT != b.RTT || a.Owner != b.Owner || a.Lease != b.Lease ||
		!a.Addrs.Equal(b.Addrs) || a.Expires.Time().UnixMilli() != b.Expires.Time().UnixMilli() || a.Expires.Time().IsZero() != b.Expires.Time().IsZero() ||
		a.Vantage != b.Vantage {
		return false
	}
	return a.Probe == b.Probe // interned by value: the same settings, the same ProbeRef
}

// StateDiffers reports whether element e differs from t in what only an
// element's home decides (ParamXState and ParamXVantage): its health,
// what the vantage points saw, its administrative state and its failure
// reports.
func StateDiffers(t, e *handlespace.Element) bool {
	return t.Health != e.Health || t.Admin != e.Admin || t.Reported != e.Reported || t.Vantage != e.Vantage
}

// TrimStatic leaves out of a zone-file element's wire form (XStatic)
// what the receiver's zone file gives, and marks it XTrimmed: its label,
// site, probe settings, addresses, owner and lease, and its weight and
// priority with a load of 0 (what the receiver takes without the
// values: the policy parameter carries a load where the policy has
// one). About 60 bytes an element are left, so that a push of 200 fits
// the ten segments a new connection may send in its first round trip.
func TrimStatic(pe *PE) {
	if x := pe.X; x != nil && x.Flags&XStatic != 0 {
		x.Label, x.Site, x.Probe, x.Addrs, x.Owner, x.Lease = "", "", nil, nil, "", 0
		x.Flags |= XTrimmed
		if x.Load == 0 && x.LoadDeg == 0 {
			x.HasValues = false
		}
	}
}

// ZoneFields completes e, a zone-file element received as its state
// alone (XTrimmed), from c, the receiver's copy: the zone file's label,
// site, addresses, owner, lease and probe settings, and weight and
// priority when the values were left out (hasValues false).
func ZoneFields(e, c *handlespace.Element, hasValues bool) {
	e.Label, e.Site, e.Addrs, e.Owner, e.Lease = c.Label, c.Site, c.Addrs, c.Owner, c.Lease
	if !hasValues {
		e.Weight, e.Priority = c.Weight, c.Priority
	}
	e.Probe = c.Probe
}

// ChangeOf says what changed of an element from was (ownership generation
// wasGen) to e (gen): "home", "generation", "state" (health, admin,
// reports, vantage) or "other"; "" when nothing, or only the lease end
// by at most skew.
func ChangeOf(was, e *handlespace.Element, wasGen, gen uint32, skew time.Duration) string {
	switch {
	case was.Home != e.Home:
		return "home"
	case wasGen != gen:
		return "generation"
	case StateDiffers(was, e):
		return "state"
	}
	w, n := *was, *e
	if d := n.Expires.Time().Sub(w.Expires.Time()); d <= skew && d >= -skew && n.Expires.Time().IsZero() == w.Expires.Time().IsZero() {
		n.Expires = w.Expires
	}
	if SameElement(&w, &n) {
		return ""
	}
	return "other"
}
