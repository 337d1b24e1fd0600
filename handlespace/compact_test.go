package handlespace

import (
	"net/netip"
	"strings"
	"testing"
	"unsafe"

	"github.com/poolnsd/poolnsd/handlespace/internal/ptree"
)

// TestRegisteredElementCompact: an element the handlespace takes keeps
// one address in itself and shares its owner and site strings with the
// elements that have the same (one object each for the collector, not
// three); its values are unchanged, and Clone keeps the layout.
func TestRegisteredElementCompact(t *testing.T) {
	hs := New(Options{RegistrarID: 1})
	if err := hs.ApplyZones([]ZoneDef{zoneDef(t)}); err != nil {
		t.Fatal(err)
	}
	mk := func(id uint32, label string, addrs ...string) *Element {
		e := &Element{ID: id, Label: label, Port: 80, Owner: strings.Clone("tsig:k."), Site: strings.Clone("ams")}
		for _, a := range addrs {
			e.Addrs = append(e.Addrs, netip.MustParseAddr(a))
		}
		return e
	}
	one, two := mk(1, "a", "10.0.0.1"), mk(2, "b", "10.0.0.2", "2001:db8::2")
	if ptree.SameString(one.Owner, two.Owner) {
		t.Fatal("the test's owners are one string already")
	}
	for _, err := range hs.Apply([][]Op{{{Pool: "web.z.test.", Elem: one}, {Pool: "web.z.test.", Elem: two}}}, nil) {
		if err != nil {
			t.Fatal(err)
		}
	}
	pv := hs.View().Zone("z.test.").Pool("web")
	a, b := pv.Element(1), pv.Element(2)
	if len(a.Addrs) != 1 || a.Addrs[0] != netip.MustParseAddr("10.0.0.1") || &a.Addrs[0] != &a.addr1[0] {
		t.Errorf("one address: Addrs %v, kept in the element: %v", a.Addrs, len(a.Addrs) == 1 && &a.Addrs[0] == &a.addr1[0])
	}
	if len(b.Addrs) != 2 || b.Addrs[1] != netip.MustParseAddr("2001:db8::2") {
		t.Errorf("two addresses: Addrs %v", b.Addrs)
	}
	if a.Owner != "tsig:k." || !ptree.SameString(a.Owner, b.Owner) || a.Site != "ams" || !ptree.SameString(a.Site, b.Site) {
		t.Errorf("owners %q %q, sites %q %q: want equal values, one string each", a.Owner, b.Owner, a.Site, b.Site)
	}
	c := a.Clone()
	if len(c.Addrs) != 1 || c.Addrs[0] != a.Addrs[0] || &c.Addrs[0] != &c.addr1[0] {
		t.Errorf("Clone: Addrs %v, kept in the clone: %v", c.Addrs, len(c.Addrs) == 1 && &c.Addrs[0] == &c.addr1[0])
	}
	c.Addrs[0] = netip.MustParseAddr("10.0.0.9")
	if a.Addrs[0] != netip.MustParseAddr("10.0.0.1") {
		t.Error("changing a clone's address changed the original's")
	}
}

// TestElementSize: an element with its address inside fits the
// allocator's 240-byte size class (a field added or moved carelessly
// makes every element 16 bytes bigger: 16 MB at a million).
func TestElementSize(t *testing.T) {
	if n := unsafe.Sizeof(Element{}); n > 240 {
		t.Errorf("Element is %d bytes, want at most 240", n)
	}
}
