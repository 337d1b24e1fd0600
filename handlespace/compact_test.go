package handlespace

import (
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
	"unsafe"
)

// TestRegisteredElementCompact: an element the handlespace takes keeps
// one address, or two (a dual-stack element), and its label in itself, and its owner and site as the
// numbers of the elements that have the same; its values are unchanged,
// and Clone keeps the layout.
func TestRegisteredElementCompact(t *testing.T) {
	hs := New(Options{RegistrarID: 1})
	if err := hs.ApplyZones([]ZoneDef{zoneDef(t)}); err != nil {
		t.Fatal(err)
	}
	mk := func(id uint32, label string, addrs ...string) *Element {
		e := &Element{ID: id, Label: LabelOf(label), Port: 80, Owner: OwnerOf(strings.Clone("tsig:k.")), Site: SiteNameOf(strings.Clone("ams"))}
		for _, a := range addrs {
			e.Addrs = e.Addrs.Append(netip.MustParseAddr(a))
		}
		return e
	}
	one, two := mk(1, "a", "10.0.0.1"), mk(2, "b", "10.0.0.2", "2001:db8::2")
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
	if b.Addrs.Len() != 2 || b.Addrs.At(0) != netip.MustParseAddr("10.0.0.2") || b.Addrs.At(1) != netip.MustParseAddr("2001:db8::2") || b.Addrs.more != nil {
		t.Errorf("two addresses: Addrs %v, kept in the element: %v", b.Addrs, b.Addrs.more == nil)
	}
	if a.Owner.String() != "tsig:k." || a.Owner != b.Owner || a.Site.String() != "ams" || a.Site != b.Site {
		t.Errorf("owners %q %q, sites %q %q: want equal values, one number each", a.Owner, b.Owner, a.Site, b.Site)
	}
	if a.Label.String() != "a" || !stringIn(a.Label.String(), a.Label.b[:]) || b.Label.String() != "b" || !stringIn(b.Label.String(), b.Label.b[:]) {
		t.Errorf("labels %q %q, kept in the elements: %v %v", a.Label.String(), b.Label.String(), stringIn(a.Label.String(), a.Label.b[:]), stringIn(b.Label.String(), b.Label.b[:]))
	}
	for _, e := range []*Element{a, b} {
		if c := e.Clone(); !c.Addrs.Equal(e.Addrs) || c.Addrs.more != nil {
			t.Errorf("Clone: Addrs %v, kept in the clone: %v", c.Addrs, c.Addrs.more == nil)
		}
	}
}

// TestElementExpiresUTC: an element's expiry is a number (no *Location
// for the collector to mark) that gives the same instant as given in any
// location, in UTC; a zero expiry stays zero.
func TestElementExpiresUTC(t *testing.T) {
	hs := New(Options{RegistrarID: 1})
	if err := hs.ApplyZones([]ZoneDef{zoneDef(t)}); err != nil {
		t.Fatal(err)
	}
	at := time.Now().Add(time.Hour).In(time.FixedZone("x", 3600))
	var ops []Op
	for i, exp := range []time.Time{at, {}} {
		ops = append(ops, Op{Pool: "web.z.test.", Elem: &Element{ID: uint32(i + 1), Label: LabelOf(fmt.Sprint("e", i)), Port: 80, Expires: ExpiryOf(exp),
			Addrs: AddrsOf(netip.MustParseAddr("10.0.0.1"))}})
	}
	for _, err := range hs.Apply([][]Op{ops}, nil) {
		if err != nil {
			t.Fatal(err)
		}
	}
	pv := hs.View().Zone("z.test.").Pool("web")
	if e := pv.Element(1).Expires.Time(); !e.Equal(at) || e.Location() != time.UTC || e != at.Round(0).UTC() {
		t.Errorf("expiry %v (%v), want %v in UTC without a monotonic reading", e, e.Location(), at)
	}
	if e := pv.Element(2).Expires.Time(); !e.IsZero() {
		t.Errorf("zero expiry became %v", e)
	}
}

// TestElementSize: an element with its addresses and label inside fits
// the allocator's 192-byte size class (a field added or moved carelessly
// makes every element 16 bytes bigger: 16 MB at a million).
func TestElementSize(t *testing.T) {
	if n := unsafe.Sizeof(Element{}); n > 192 {
		t.Errorf("Element is %d bytes, want at most 192", n)
	}
}

// TestElementPointers: the only pointer words of an Element, which the
// collector looks at in every element at every cycle, are the two that
// are left to take out (Addrs.more, nil for one or two plain addresses;
// the readers' memo cell): a field that brings one back fails here. Once both are
// gone, the element is an object the collector does not scan (the list
// is empty).
func TestElementPointers(t *testing.T) {
	var got []string
	var walk func(path string, typ reflect.Type)
	walk = func(path string, typ reflect.Type) {
		switch typ.Kind() {
		case reflect.Pointer, reflect.UnsafePointer, reflect.String, reflect.Slice, reflect.Map,
			reflect.Chan, reflect.Func, reflect.Interface:
			got = append(got, path)
		case reflect.Array:
			if typ.Len() > 0 {
				walk(path+"[]", typ.Elem())
			}
		case reflect.Struct:
			for i := range typ.NumField() {
				walk(path+"."+typ.Field(i).Name, typ.Field(i).Type)
			}
		}
	}
	walk("Element", reflect.TypeFor[Element]())
	want := []string{"Element.Addrs.more", "Element.memo.p"}
	if !slices.Equal(got, want) {
		t.Errorf("pointer words of Element: %q, want %q", got, want)
	}
}

// TestElementLabel: a label of up to 63 octets (the longest DNS label)
// lies in its element, reading it allocates nothing, and a clone has its
// own copy; a longer one is refused with ErrBadElement, not cut.
func TestElementLabel(t *testing.T) {
	hs := New(Options{RegistrarID: 1})
	if err := hs.ApplyZones([]ZoneDef{zoneDef(t)}); err != nil {
		t.Fatal(err)
	}
	mk := func(id uint32, label string) *Element {
		return &Element{ID: id, Label: LabelOf(label), Addrs: AddrsOf(netip.MustParseAddr("10.0.0.1")), Port: 80}
	}
	for i, label := range []string{"a", strings.Repeat("y", labelMax)} {
		e := mk(uint32(i+1), label)
		if err := hs.Apply([][]Op{{{Pool: "web.z.test.", Elem: e}}}, nil)[0]; err != nil {
			t.Fatalf("label of %d octets: %v", len(label), err)
		}
		got := hs.View().Zone("z.test.").Pool("web").Element(uint32(i + 1))
		if got.Label.String() != label || got.Label.Len() != len(label) || !stringIn(got.Label.String(), got.Label.b[:]) {
			t.Errorf("label of %d octets: %q, in the element %v", len(label), got.Label.String(), stringIn(got.Label.String(), got.Label.b[:]))
		}
		if n := testing.AllocsPerRun(10, func() { _ = got.Label.String() }); n != 0 {
			t.Errorf("reading a label: %v allocations", n)
		}
		if c := got.Clone(); c.Label.String() != label || stringIn(c.Label.String(), got.Label.b[:]) {
			t.Errorf("clone's label %q, still the original's bytes: %v", c.Label.String(), stringIn(c.Label.String(), got.Label.b[:]))
		}
	}
	long := mk(3, strings.Repeat("x", labelMax+1))
	if err := long.Label.Check(); !long.Label.TooLong() || err == nil || !strings.Contains(err.Error(), "64 octets") {
		t.Errorf("a label of %d octets: TooLong %v, Check %v", labelMax+1, long.Label.TooLong(), err)
	}
	if err := mk(4, "ok-label").Label.Check(); err != nil {
		t.Errorf("Check of a good label: %v", err)
	}
	if err := hs.Apply([][]Op{{{Pool: "web.z.test.", Elem: long}}}, nil)[0]; !errors.Is(err, ErrBadElement) {
		t.Errorf("a label of %d octets: %v, want ErrBadElement", labelMax+1, err)
	}
	if (&Label{}).String() != "" || LabelOf("").Len() != 0 {
		t.Error("the zero Label is not empty")
	}
}

// stringIn reports whether s's bytes lie at the start of buf.
func stringIn(s string, buf []byte) bool {
	return len(s) > 0 && len(buf) > 0 && unsafe.StringData(s) == &buf[0]
}
