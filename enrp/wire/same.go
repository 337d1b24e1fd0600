package wire

import (
	"slices"

	"github.com/poolnsd/poolnsd/handlespace"
)

// SameElement reports whether two elements are alike in everything ENRP
// carries, the lease end included (to the millisecond).
func SameElement(a, b *handlespace.Element) bool {
	if a == b {
		return true
	}
	if a.ID != b.ID || a.Label != b.Label || a.Port != b.Port || a.Transport != b.Transport ||
		a.Weight != b.Weight || a.Priority != b.Priority || a.Load != b.Load || a.LoadDeg != b.LoadDeg ||
		a.Site != b.Site || a.Health != b.Health || a.Home != b.Home || a.Static != b.Static ||
		a.Admin != b.Admin || a.Reported != b.Reported || a.RTT != b.RTT || a.Owner != b.Owner || a.Lease != b.Lease ||
		!slices.Equal(a.Addrs, b.Addrs) || a.Expires.UnixMilli() != b.Expires.UnixMilli() || a.Expires.IsZero() != b.Expires.IsZero() ||
		!slices.Equal(a.Vantage, b.Vantage) {
		return false
	}
	switch {
	case a.Probe == nil && b.Probe == nil:
		return true
	case a.Probe == nil || b.Probe == nil:
		return false
	}
	return *a.Probe == *b.Probe
}

// StateDiffers reports whether element e differs from t in what only an
// element's home decides (ParamXState and ParamXVantage): its health,
// what the vantage points saw, its administrative state and its failure
// reports.
func StateDiffers(t, e *handlespace.Element) bool {
	return t.Health != e.Health || t.Admin != e.Admin || t.Reported != e.Reported || !slices.Equal(t.Vantage, e.Vantage)
}
