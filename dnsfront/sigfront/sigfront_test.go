package sigfront

import (
	"bytes"
	"encoding/binary"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/poolnsd/poolnsd/dnssec"
)

// newZone returns the zone pool.test. of a signer with a new P-256 key.
func newZone(t *testing.T) *dnssec.Zone {
	t.Helper()
	k, err := dnssec.Generate("pool.test.", dns.ECDSAP256SHA256, dnssec.FlagsCSK, dnssec.Timing{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := k.Write(dir); err != nil {
		t.Fatal(err)
	}
	ks, err := dnssec.Load(dir, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	s := dnssec.NewSigner(dnssec.Options{})
	s.SetKeys(ks)
	return s.Zone("pool.test.")
}

// signed returns the signatures of web.pool.test. A 10.0.0.1 by z, ready
// to append with the owner ptr.
func signed(t *testing.T, z *dnssec.Zone, ptr []byte) *Signed {
	t.Helper()
	rr, err := dns.NewRR("web.pool.test. 5 IN A 10.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	sigs, err := z.Sign([]dns.RR{rr})
	if err != nil {
		t.Fatal(err)
	}
	return NewSigned(sigs, sigs.AppendWire(nil, ptr))
}

type material struct{ id int }

// TestSet: an answer named by its records' material and Aux is found for
// the same records in any order, and for nothing else: not a subset or a
// superset, not other Aux, not the same records with other multiplicities,
// not another name, type or keys, not once due to be signed again.
func TestSet(t *testing.T) {
	z, z2 := newZone(t), newZone(t)
	g := signed(t, z, []byte{0xC0, 0x0C})
	m := []*material{{1}, {2}, {3}, {4}}
	recs := func(aux uint32, idx ...int) []Rec[material] {
		var r []Rec[material]
		for _, i := range idx {
			r = append(r, Rec[material]{P: m[i], Aux: aux + uint32(i)})
		}
		return r
	}
	now := time.Now().UnixNano()
	tab := New[material]()
	e, _, slot := tab.Set(z, "web.pool.test.", dns.TypeSRV, recs(0, 0, 1, 2), now)
	if e != nil {
		t.Fatal("a hit in an empty table")
	}
	e = tab.PutSet(slot, z, "web.pool.test.", dns.TypeSRV, recs(0, 0, 1, 2), g)
	if e.G != g {
		t.Fatal("PutSet: another entry")
	}
	for _, c := range []struct {
		what string
		z    *dnssec.Zone
		name string
		typ  uint16
		recs []Rec[material]
		hit  bool
		same bool
	}{
		{"the same", z, "web.pool.test.", dns.TypeSRV, recs(0, 0, 1, 2), true, true},
		{"another order", z, "web.pool.test.", dns.TypeSRV, recs(0, 2, 0, 1), true, false},
		{"another order, first the same", z, "web.pool.test.", dns.TypeSRV, recs(0, 0, 2, 1), true, false},
		{"a subset", z, "web.pool.test.", dns.TypeSRV, recs(0, 0, 1), false, false},
		{"a superset", z, "web.pool.test.", dns.TypeSRV, recs(0, 0, 1, 2, 3), false, false},
		{"one other record", z, "web.pool.test.", dns.TypeSRV, recs(0, 0, 1, 3), false, false},
		{"a record twice", z, "web.pool.test.", dns.TypeSRV, recs(0, 0, 1, 1), false, false},
		{"other aux", z, "web.pool.test.", dns.TypeSRV, recs(7, 0, 1, 2), false, false},
		{"another name", z, "api.pool.test.", dns.TypeSRV, recs(0, 0, 1, 2), false, false},
		{"another type", z, "web.pool.test.", dns.TypeURI, recs(0, 0, 1, 2), false, false},
		{"other keys", z2, "web.pool.test.", dns.TypeSRV, recs(0, 0, 1, 2), false, false},
	} {
		got, same, _ := tab.Set(c.z, c.name, c.typ, c.recs, now)
		if (got != nil) != c.hit || same != c.same {
			t.Errorf("%s: hit %v same %v, want %v %v", c.what, got != nil, same, c.hit, c.same)
		}
		if got != nil && got != e {
			t.Errorf("%s: another entry", c.what)
		}
	}
	if got, _, _ := tab.Set(z, "web.pool.test.", dns.TypeSRV, recs(0, 0, 1, 2), now+int64(dnssec.DefaultValidity)); got != nil {
		t.Error("a hit for signatures due to be made again")
	}
	// Duplicates count: an entry with a record twice matches only that.
	dup := append(recs(0, 0, 1), recs(0, 0)...)
	_, _, slot = tab.Set(z, "dup.pool.test.", dns.TypeSRV, dup, now)
	tab.PutSet(slot, z, "dup.pool.test.", dns.TypeSRV, dup, g)
	if got, _, _ := tab.Set(z, "dup.pool.test.", dns.TypeSRV, recs(0, 0, 0, 1), now); got == nil {
		t.Error("the same records with a duplicate, in another order: a miss")
	}
	if got, _, _ := tab.Set(z, "dup.pool.test.", dns.TypeSRV, recs(0, 0, 1, 1), now); got != nil {
		t.Error("other multiplicities: a hit")
	}
	// The tail: for the room it was made for, until its time.
	if e.Tail(100, now) != nil {
		t.Error("a tail before one was put")
	}
	tl := &Tail{Room: 100, Wire: []byte{1}, Count: 1, Until: now + int64(time.Hour)}
	e.PutTail(tl)
	if e.Tail(100, now) != tl || e.Tail(99, now) != nil || e.Tail(100, now+int64(time.Hour)) != nil {
		t.Error("Tail: a tail for other room or time, or none for its own")
	}
}

// TestAnswer: an answer named by its packed records is found for the same
// records in any order, and for nothing else.
func TestAnswer(t *testing.T) {
	z, z2 := newZone(t), newZone(t)
	g := signed(t, z, []byte{0xC0, 0x0C})
	// ans packs A records of the last octets given, owners a pointer.
	ans := func(octets ...byte) []byte {
		var b []byte
		for _, o := range octets {
			b = append(b, 0xC0, 0x0C, 0, 1, 0, 1, 0, 0, 0, 5, 0, 4, 10, 0, 0, o)
		}
		return b
	}
	now := time.Now().UnixNano()
	var hs []uint64
	tab := New[material]()
	got, slot := tab.Answer(&hs, z, "web.pool.test.", ans(1, 2, 3), now)
	if got != nil {
		t.Fatal("a hit in an empty table")
	}
	tab.PutAnswer(slot, hs, z, "web.pool.test.", ans(1, 2, 3), g)
	for _, c := range []struct {
		what string
		z    *dnssec.Zone
		name string
		ans  []byte
		hit  bool
	}{
		{"the same", z, "web.pool.test.", ans(1, 2, 3), true},
		{"another order", z, "web.pool.test.", ans(3, 1, 2), true},
		{"another order", z, "web.pool.test.", ans(2, 3, 1), true},
		{"a subset", z, "web.pool.test.", ans(1, 2), false},
		{"a superset", z, "web.pool.test.", ans(1, 2, 3, 4), false},
		{"one other record", z, "web.pool.test.", ans(1, 2, 4), false},
		{"a record twice", z, "web.pool.test.", ans(1, 2, 2), false},
		{"another name", z, "api.pool.test.", ans(1, 2, 3), false},
		{"other keys", z2, "web.pool.test.", ans(1, 2, 3), false},
	} {
		got, _ := tab.Answer(&hs, c.z, c.name, c.ans, now)
		if (got != nil) != c.hit {
			t.Errorf("%s: hit %v, want %v", c.what, got != nil, c.hit)
		}
	}
	if got, _ := tab.Answer(&hs, z, "web.pool.test.", ans(1, 2, 3), now+int64(dnssec.DefaultValidity)); got != nil {
		t.Error("a hit for signatures due to be made again")
	}
}

// TestTarget: a target's RRset is found by material and type, and
// AppendAt writes it with every owner the pointer asked for.
func TestTarget(t *testing.T) {
	z, z2 := newZone(t), newZone(t)
	rr, err := dns.NewRR("e1.web.pool.test. 5 IN A 10.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	sigs, err := z.Sign([]dns.RR{rr})
	if err != nil {
		t.Fatal(err)
	}
	// The glue record (owner a pointer to patch) and then the RRSIGs.
	wire := append([]byte{0xC0, 0, 0, 1, 0, 1, 0, 0, 0, 5, 0, 4}, 10, 0, 0, 1)
	g := NewSigned(sigs, sigs.AppendWire(wire, []byte{0xC0, 0}))
	if g.Count != 1+len(sigs.RRSIGs) {
		t.Fatalf("Count %d, want %d", g.Count, 1+len(sigs.RRSIGs))
	}
	m1, m2 := &material{1}, &material{2}
	now := time.Now().UnixNano()
	tab := New[material]()
	tab.PutTarget(z, m1, dns.TypeA, g)
	if tab.Target(z, m1, dns.TypeA, now) != g || tab.Target(z2, m1, dns.TypeA, now) != nil ||
		tab.Target(z, m2, dns.TypeA, now) != nil || tab.Target(z, m1, dns.TypeAAAA, now) != nil ||
		tab.Target(z, m1, dns.TypeA, now+int64(dnssec.DefaultValidity)) != nil {
		t.Error("a hit for another RRset, or a miss for the same")
	}
	// Written at offset 5 of a reply, owners a pointer to 0x123: the same
	// bytes as the records and signatures appended with that owner.
	pre := []byte("hello")
	got := g.AppendAt(pre, 0x123)
	want := append([]byte("hello"), 0xC1, 0x23)
	want = append(want, wire[2:16]...)
	want = sigs.AppendWire(want, []byte{0xC1, 0x23})
	if !bytes.Equal(got, want) {
		t.Errorf("AppendAt:\n got % x\nwant % x", got, want)
	}
	// Every record of the result parses, owner the pointer.
	for off := len(pre); off < len(got); off += 12 + int(binary.BigEndian.Uint16(got[off+10:])) {
		if binary.BigEndian.Uint16(got[off:]) != 0xC123 {
			t.Errorf("owner at %d: %x", off, got[off:off+2])
		}
	}
}

// TestSetRotations: the rotations of a rank-ordered answer (the same
// materials, the same Aux values, paired otherwise: rr's SRV answers) are
// different RRsets, each kept in a slot of its own (a hash that added
// materials and Aux apart put them all in one slot, each taking it from
// the one before). Ten of 16384 slots: a collision is possible, rare (a
// pair in about 0.3 % of seeds), so 8 of the 10 must be kept.
func TestSetRotations(t *testing.T) {
	z := newZone(t)
	g := signed(t, z, []byte{0xC0, 0x0C})
	m := make([]*material, 10)
	for i := range m {
		m[i] = &material{i}
	}
	rot := func(k int) []Rec[material] {
		var r []Rec[material]
		for i := range m {
			r = append(r, Rec[material]{P: m[(i+k)%len(m)], Aux: uint32(i) << 16})
		}
		return r
	}
	now := time.Now().UnixNano()
	tab := New[material]()
	for k := range m {
		_, _, slot := tab.Set(z, "web.pool.test.", 33, rot(k), now)
		tab.PutSet(slot, z, "web.pool.test.", 33, rot(k), g)
	}
	kept := 0
	for k := range m {
		if e, same, _ := tab.Set(z, "web.pool.test.", 33, rot(k), now); e != nil && same {
			kept++
		}
	}
	if kept < 8 {
		t.Errorf("%d of 10 rotations kept", kept)
	}
}
