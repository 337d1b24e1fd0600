package handlespace

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/poolnsd/poolnsd/handlespace/internal/ptree"
)

// TestRegisteredElementCompact: an element the handlespace takes keeps
// one address in itself and shares its site string with the elements
// that have the same (one object for the collector, not one each); its
// values are unchanged, and Clone keeps the layout.
func TestRegisteredElementCompact(t *testing.T) {
	hs := New(Options{RegistrarID: 1})
	if err := hs.ApplyZones([]ZoneDef{zoneDef(t)}); err != nil {
		t.Fatal(err)
	}
	mk := func(id uint32, label string, addrs ...string) *Element {
		e := &Element{ID: id, Label: label, Port: 80, Owner: OwnerOf(strings.Clone("tsig:k.")), Site: strings.Clone("ams")}
		for _, a := range addrs {
			e.Addrs = e.Addrs.Append(netip.MustParseAddr(a))
		}
		return e
	}
	one, two := mk(1, "a", "10.0.0.1"), mk(2, "b", "10.0.0.2", "2001:db8::2")
	if ptree.SameString(one.Site, two.Site) {
		t.Fatal("the test's sites are one string already")
	}
	for _, err := range hs.Apply([][]Op{{{Pool: "web.z.test.", Elem: one}, {Pool: "web.z.test.", Elem: two}}}, nil) {
		if err != nil {
			t.Fatal(err)
		}
	}
	pv := hs.View().Zone("z.test.").Pool("web")
	a, b := pv.Element(1), pv.Element(2)
	if a.Addrs.Len() != 1 || a.Addrs.At(0) != netip.MustParseAddr("10.0.0.1") || a.Addrs.more != nil {
		t.Errorf("one address: Addrs %v, kept in the element: %v", a.Addrs, a.Addrs.more == nil)
	}
	if b.Addrs.Len() != 2 || b.Addrs.At(1) != netip.MustParseAddr("2001:db8::2") {
		t.Errorf("two addresses: Addrs %v", b.Addrs)
	}
	if a.Owner.String() != "tsig:k." || a.Owner != b.Owner || a.Site != "ams" || !ptree.SameString(a.Site, b.Site) {
		t.Errorf("owners %q %q, sites %q %q: want equal values, one string each", a.Owner, b.Owner, a.Site, b.Site)
	}
	if a.Label != "a" || !stringIn(a.Label, a.label[:]) || b.Label != "b" || !stringIn(b.Label, b.label[:]) {
		t.Errorf("labels %q %q, kept in the elements: %v %v", a.Label, b.Label, stringIn(a.Label, a.label[:]), stringIn(b.Label, b.label[:]))
	}
	if c := a.Clone(); !c.Addrs.Equal(a.Addrs) || c.Addrs.more != nil {
		t.Errorf("Clone: Addrs %v, kept in the clone: %v", c.Addrs, c.Addrs.more == nil)
	}
}

// TestElementExpiresUTC: the handlespace keeps an element's expiry in UTC,
// with no *Location for the collector to mark, the same instant as given
// in any location; a zero expiry stays zero.
func TestElementExpiresUTC(t *testing.T) {
	hs := New(Options{RegistrarID: 1})
	if err := hs.ApplyZones([]ZoneDef{zoneDef(t)}); err != nil {
		t.Fatal(err)
	}
	at := time.Now().Add(time.Hour).In(time.FixedZone("x", 3600))
	var ops []Op
	for i, exp := range []time.Time{at, {}} {
		ops = append(ops, Op{Pool: "web.z.test.", Elem: &Element{ID: uint32(i + 1), Label: fmt.Sprint("e", i), Port: 80, Expires: exp,
			Addrs: AddrsOf(netip.MustParseAddr("10.0.0.1"))}})
	}
	for _, err := range hs.Apply([][]Op{ops}, nil) {
		if err != nil {
			t.Fatal(err)
		}
	}
	pv := hs.View().Zone("z.test.").Pool("web")
	if e := pv.Element(1).Expires; !e.Equal(at) || e.Location() != time.UTC || e != at.Round(0).UTC() {
		t.Errorf("expiry %v (%v), want %v in UTC without a monotonic reading", e, e.Location(), at)
	}
	if e := pv.Element(2).Expires; !e.IsZero() {
		t.Errorf("zero expiry became %v", e)
	}
}

// TestElementSize: an element with its address and label inside fits
// the allocator's 224-byte size class (a field added or moved carelessly
// makes every element 16 bytes bigger: 16 MB at a million).
func TestElementSize(t *testing.T) {
	if n := unsafe.Sizeof(Element{}); n > 224 {
		t.Errorf("Element is %d bytes, want at most 224", n)
	}
}

// TestElementLabelInline: a label of up to labelInline bytes lies in its
// element, a longer one does not; the label array is written once at
// most, so that a string made over it never changes, even when an element
// the handlespace refused is given again with another label; a clone gets
// an array of its own.
func TestElementLabelInline(t *testing.T) {
	var in interner
	long := strings.Repeat("x", labelInline+1)
	mk := func(label string) *Element {
		return &Element{ID: 1, Label: strings.Clone(label), Addrs: AddrsOf(netip.MustParseAddr("10.0.0.1")), Port: 80}
	}
	for _, tc := range []struct {
		label  string
		inline bool
	}{{"a", true}, {strings.Repeat("y", labelInline), true}, {long, false}} {
		e := mk(tc.label)
		e.compact(&in)
		if e.Label != tc.label || stringIn(e.Label, e.label[:]) != tc.inline {
			t.Errorf("label of %d bytes: %q, in the element %v, want %v", len(tc.label), e.Label, stringIn(e.Label, e.label[:]), tc.inline)
		}
	}
	e := mk("first")
	e.compact(&in)
	first := e.Label
	e.Label = strings.Clone("second")
	e.compact(&in)
	if first != "first" || e.Label != "second" || stringIn(e.Label, e.label[:]) {
		t.Errorf("compacted again with another label: the first %q (want first), the second %q in the element: %v",
			first, e.Label, stringIn(e.Label, e.label[:]))
	}
	f := mk("third")
	f.compact(&in)
	c := f.Clone()
	c.compact(&in)
	if c.Label != "third" || !stringIn(c.Label, c.label[:]) || !stringIn(f.Label, f.label[:]) {
		t.Errorf("clone: %q, in the clone %v", c.Label, stringIn(c.Label, c.label[:]))
	}
	byValue := *f // a copy by value points at the original's bytes and keeps them
	byValue.compact(&in)
	if byValue.Label != "third" || !stringIn(byValue.Label, f.label[:]) {
		t.Errorf("copy by value: %q, still the original's bytes: %v", byValue.Label, stringIn(byValue.Label, f.label[:]))
	}
}

// stringIn reports whether s's bytes lie at the start of buf.
func stringIn(s string, buf []byte) bool {
	return len(s) > 0 && len(buf) > 0 && unsafe.StringData(s) == &buf[0]
}
