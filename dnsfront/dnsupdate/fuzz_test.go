package dnsupdate

import (
	"encoding/base64"
	"fmt"
	"reflect"
	"slices"
	"testing"

	"github.com/miekg/dns"
	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/internal/updatetest"
	"github.com/poolnsd/poolnsd/regcommit"
)

// FuzzUpdate feeds arbitrary messages, as DNS UPDATEs, to the server with
// the real committer and store, read from their bytes (Read) as the DNS
// front reads them (those that unpack: the DNS front answers the others
// FORMERR). signed adds a TSIG record
// that the server is taken to have verified, so that the fuzzer reaches the
// update's semantics. Every update must get exactly one reply that unpacks
// and matches it, and one that does not succeed must change neither the
// handlespace nor the store. Seeds: below and testdata/fuzz/FuzzUpdate.
func FuzzUpdate(f *testing.F) {
	for _, s := range updateSeeds(f) {
		f.Add(s.b, s.signed)
	}
	fx := newUpdFixture(f, regcommit.Config{Rate: 1e9, Burst: 1 << 30})
	f.Fuzz(func(t *testing.T, data []byte, signed bool) {
		m := new(dns.Msg)
		if err := m.Unpack(data); err != nil {
			return
		}
		m.Opcode, m.Response = dns.OpcodeUpdate, false
		if signed && m.IsTsig() == nil {
			m.SetTsig(updatetest.KeyAll, dns.HmacSHA256, 300, updatetest.T0.Unix())
		}
		b, err := m.Pack()
		if err != nil {
			return
		}
		m = new(dns.Msg)
		if err := m.Unpack(b); err != nil {
			return
		}
		// The server's path: the message read from its bytes.
		var um Message
		if !Read(b, &um) {
			t.Fatalf("an update that unpacks does not Read: %x", b)
		}
		before, storeBefore := fx.digest(t)
		w := &recorder{}
		fx.s.Serve(w, &um)
		if w.n != 1 {
			t.Fatalf("%d replies, want 1", w.n)
		}
		if w.err != nil {
			t.Fatalf("reply does not unpack: %v\nupdate: %v", w.err, m)
		}
		if w.msg.Id != m.Id || !w.msg.Response || w.msg.Opcode != dns.OpcodeUpdate {
			t.Fatalf("reply header %+v for update %+v", w.msg.MsgHdr, m.MsgHdr)
		}
		if w.msg.Rcode != dns.RcodeSuccess {
			after, storeAfter := fx.digest(t)
			if !slices.Equal(before, after) || !slices.Equal(storeBefore, storeAfter) {
				t.Fatalf("update answered %s changed the state:\n%q\n%q\nupdate: %v", updatetest.Rcode(w.msg), before, after, m)
			}
		}
	})
}

// digest describes every element of the handlespace and of the store.
func (f *updFixture) digest(t *testing.T) (view, store []string) {
	for _, z := range f.HS.View().Zones() {
		for _, h := range z.PoolHandles() {
			pv := z.Pool(h)
			for _, e := range pv.Elements() {
				view = append(view, fmt.Sprintf("%s %s %08x %v %d %d/%d %d %d %s %s %v", pv.Name, pv.Spec.Policy, e.ID, e.Addrs,
					e.Port, e.Weight, e.Priority, e.Load, e.LoadDeg, e.Site.String(), e.Owner, e.Expires.Time().UnixNano()))
			}
		}
	}
	slices.Sort(view)
	if err := f.Store.Elements(func(pool string, e *handlespace.Element) error {
		store = append(store, fmt.Sprintf("%s %08x %v %d %v", pool, e.ID, e.Addrs, e.Port, e.Expires.Time().UnixNano()))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return view, store
}

type updateSeed struct {
	b      []byte
	signed bool
}

// updateSeeds are well-formed and malformed updates of each kind.
func updateSeeds(t testing.TB) []updateSeed {
	var out []updateSeed
	add := func(m *dns.Msg, signed bool) {
		b, err := m.Pack()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, updateSeed{b, signed})
	}
	reg := updatetest.Msg(t, append(updatetest.PE("f1", 80, "192.0.2.1", 30), `+ f1.dyn.pool.test. 30 IN TXT "weight=3 load=0.5 site=x"`,
		"+ f1.dyn.pool.test. 30 IN AAAA 2001:db8::1")...)
	add(reg, true)
	add(reg.Copy(), false)
	withLease := updatetest.Msg(t, updatetest.PE("f2", 81, "192.0.2.2", 0)...)
	withLease.SetEdns0(1232, false)
	withLease.IsEdns0().Option = append(withLease.IsEdns0().Option, &dns.EDNS0_UL{Code: dns.EDNS0UL, Lease: 10, KeyLease: 20})
	add(withLease, true)
	add(updatetest.Msg(t, "-name f1.dyn.pool.test."), true)
	add(updatetest.Msg(t, "-rrset f1.dyn.pool.test. A", "- f1.dyn.pool.test. 0 IN SRV 0 0 80 f1.dyn.pool.test."), true)
	add(updatetest.Msg(t, append([]string{"?nxdomain f3.dyn.pool.test.", "?yxrrset web.pool.test. A", "?= txt.pool.test. 0 IN TXT hello"},
		updatetest.PE("f3", 82, "192.0.2.3", 30)...)...), true)
	add(updatetest.Msg(t, "+ w1.web.pool.test. 30 IN A 192.0.2.9"), true)
	add(updatetest.Msg(t, "+ f4.dyn.example.org. 30 IN A 192.0.2.9"), true)
	bad := updatetest.Msg(t, updatetest.PE("f5", 80, "192.0.2.5", 30)...)
	bad.Ns[0].Header().Class = dns.ClassCHAOS
	add(bad, true)
	zone2 := updatetest.Msg(t, updatetest.PE("f6", 80, "192.0.2.6", 30)...)
	zone2.Question = append(zone2.Question, dns.Question{Name: "x.", Qtype: dns.TypeSOA, Qclass: dns.ClassINET})
	add(zone2, true)
	return out
}

// FuzzRead: Read, from the bytes, makes of any message what FromMsg makes
// of miekg/dns's Unpack of it, and fails where Unpack fails; read into a
// Message kept from the inputs before (as a pooled one is), the same as
// into a new one. Seeds: the
// updates of updateSeeds, signed and not, and testdata/fuzz/FuzzRead.
func FuzzRead(f *testing.F) {
	for _, s := range updateSeeds(f) {
		f.Add(s.b)
		m := new(dns.Msg)
		if err := m.Unpack(s.b); err != nil {
			f.Fatal(err)
		}
		m.SetTsig(updatetest.KeyAll, dns.HmacSHA256, 300, updatetest.T0.Unix())
		b, _, err := dns.TsigGenerate(m, base64.StdEncoding.EncodeToString(updatetest.Secret), "", false)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	// kept is read again and again, as a pooled Message is: emptied by
	// Clear every other time, else holding the message before.
	var kept Message
	n := 0
	f.Fuzz(func(t *testing.T, b []byte) {
		var got Message
		ok := Read(b, &got)
		r := new(dns.Msg)
		err := r.Unpack(b)
		if ok != (err == nil) {
			t.Fatalf("Read says %v, Unpack %v\n%x", ok, err, b)
		}
		if n++; n%2 == 0 {
			kept.Clear()
		}
		if again := Read(b, &kept); again != ok || (ok && !reflect.DeepEqual(&kept, &got)) {
			t.Fatalf("Read into a kept Message: %v\n%+v\nfresh: %v\n%+v\n%x", again, kept, ok, got, b)
		}
		if !ok {
			return
		}
		if got.TSIG != nil {
			if got.TSIGOff < 12 || got.TSIGOff >= len(b) {
				t.Fatalf("TSIG at %d of %d bytes", got.TSIGOff, len(b))
			}
			got.TSIGOff = 0
		}
		want := FromMsg(r)
		if got.TSIG != nil {
			ts := *got.TSIG // out of Read's room, which FromMsg leaves empty
			got.TSIG, got.tsig = &ts, dns.TSIG{}
		}
		if !reflect.DeepEqual(&got, want) {
			t.Fatalf("Read:\n%+v\nFromMsg:\n%+v\n%x", got, *want, b)
		}
	})
}
