package dnsmetrics

import (
	"slices"
	"testing"
	"time"
)

// TestNilDNS: every method of a nil *DNS does nothing (the DNS front calls
// them without checking whether metrics are on).
func TestNilDNS(t *testing.T) {
	var d *DNS
	d.Query(1, 0, false)
	d.QueryNoQuestion(1, true)
	d.Truncated()
	d.Rejected(RejectFormErr)
	d.Latency(time.Millisecond)
	d.UpdateRefused(CauseAuth)
	if d.Sample() {
		t.Error("a nil *DNS samples")
	}
}

// TestDNSCounts: queries count by type, rcode and transport (unknown ones
// as other, no question as none), refusals reach the hook, and the sample
// is a power of two.
func TestDNSCounts(t *testing.T) {
	var refused []Cause
	d := New(5, func(c Cause) { refused = append(refused, c) })
	if r := d.SampleRatio(); r != 1.0/8 {
		t.Errorf("sample ratio %v for 5, want 1/8", r)
	}
	d.Query(1, 0, false)
	d.Query(1, 0, false)
	d.Query(33, 3, true)
	d.Query(4242, 16, false)
	d.QueryNoQuestion(1, false)
	d.Truncated()
	d.Rejected(RejectNotImp)
	d.Rejected("bogus")
	d.UpdateRefused(CauseForbidden)
	type q struct {
		qtype, rcode, transport string
		n                       uint64
	}
	var got []q
	d.EachQuery(func(qtype, rcode, transport string, n uint64) { got = append(got, q{qtype, rcode, transport, n}) })
	want := []q{{"other", "BADVERS", "udp", 1}, {"A", "NOERROR", "udp", 2}, {"SRV", "NXDOMAIN", "tcp", 1}, {"none", "FORMERR", "udp", 1}}
	if !slices.Equal(got, want) {
		t.Errorf("queries %v, want %v", got, want)
	}
	if d.Truncations() != 1 {
		t.Errorf("truncations %d, want 1", d.Truncations())
	}
	rej := map[string]uint64{}
	d.EachRejection(func(r string, n uint64) { rej[r] = n })
	if rej[RejectNotImp] != 1 || rej[RejectFormErr] != 0 || len(rej) != 3 {
		t.Errorf("rejections %v, want notimp 1 of 3 reasons", rej)
	}
	if !slices.Equal(refused, []Cause{CauseForbidden}) {
		t.Errorf("refused %v, want [forbidden]", refused)
	}
}

func TestHistogram(t *testing.T) {
	h := NewHistogram([]time.Duration{time.Millisecond, time.Second})
	for _, d := range []time.Duration{-1, time.Millisecond, 2 * time.Millisecond, time.Minute} {
		h.Observe(d)
	}
	counts, sum := h.Read(nil)
	if !slices.Equal(counts, []uint64{2, 1, 1}) || sum != time.Minute+3*time.Millisecond || h.Count() != 4 {
		t.Errorf("counts %v, sum %v, count %d; want [2 1 1], 1m0.003s, 4", counts, sum, h.Count())
	}
}
