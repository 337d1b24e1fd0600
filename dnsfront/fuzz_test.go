package dnsfront

import (
	"testing"

	"github.com/miekg/dns"
	"github.com/poolnsd/poolnsd/dnssec"
)

// FuzzHandler feeds arbitrary messages to the handler (those that unpack:
// the server answers the others FORMERR before the handler sees them). Every
// query must get exactly one reply that unpacks, carries the query's ID and
// QR, and fits the size the query allows over UDP. The zone is signed, so
// that queries with DO take the signing renderer, and so is child.example.
// beside it, whose RFC 9615 signals pool.test. holds. Seeds: testdata/fuzz.
func FuzzHandler(f *testing.F) {
	for _, q := range []struct {
		name string
		qt   uint16
	}{
		{"web.pool.test.", dns.TypeA}, {"_http._tcp.web.pool.test.", dns.TypeSRV},
		{"big.pool.test.", dns.TypeSRV}, {"w1.web.pool.test.", dns.TypeAAAA},
		{"x.wild.pool.test.", dns.TypeTXT}, {"pool.test.", dns.TypeANY},
		{"h.pool.test.", dns.TypeHTTPS}, {"_8080._foo.h.pool.test.", dns.TypeSVCB}, {"bs.pool.test.", dns.TypeHTTPS},
		{"s.pool.test.", dns.TypeNAPTR}, {"bs.pool.test.", dns.TypeNAPTR},
		// Signed answers (DO=1; pool.test. is signed): denials, DNSSEC
		// types, a referral, a CNAME chain.
		{"nope.pool.test.", dns.TypeA}, {"txt.pool.test.", dns.TypeA}, {"pool.test.", dns.TypeDNSKEY},
		{"sub.pool.test.", dns.TypeDS}, {"x.sub.pool.test.", dns.TypeA}, {"txt.pool.test.", dns.TypeNSEC},
		{"nope.pool.test.", dns.TypeRRSIG}, {"nope.pool.test.", 128}, {"gone.pool.test.", dns.TypeA},
		{"dead.pool.test.", dns.TypeAAAA}, {"_tcp.web.pool.test.", dns.TypeSRV},
		{"pool.test.", dns.TypeCDS}, {"pool.test.", dns.TypeCDNSKEY}, {"web.pool.test.", dns.TypeCDS},
		{`a\.sub.pool.test.`, dns.TypeA}, {`x.a\.wild.pool.test.`, dns.TypeTXT},
		// RFC 9615's signals of child.example. (served and signed too),
		// the empty non-terminals above them, a name beside them.
		{"_dsboot.child.example._signal.ns1.pool.test.", dns.TypeCDS},
		{"_dsboot.child.example._signal.x.wild.pool.test.", dns.TypeCDNSKEY},
		{"example._signal.ns1.pool.test.", dns.TypeA}, {"_signal.ns1.pool.test.", dns.TypeNSEC},
		{"_dsboot.child.example._signal.ns.child.example.", dns.TypeCDS},
	} {
		for _, do := range []bool{true, false} {
			// Without DO too: the DNSSEC types are answered so.
			m := new(dns.Msg)
			m.SetQuestion(q.name, q.qt)
			m.SetEdns0(1232, do)
			b, err := m.Pack()
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b, false)
		}
	}
	signer := signerOfZones(f, dnssec.Options{}, genKey(f, "pool.test.", dnssec.Timing{}), genKey(f, "child.example.", dnssec.Timing{}))
	h := NewHandler(withChild(f, fuzzSpace(f)), Config{Signer: signer})
	f.Fuzz(func(t *testing.T, data []byte, tcp bool) {
		q := new(dns.Msg)
		if err := q.Unpack(data); err != nil {
			return
		}
		w := newRecorder(tcp)
		h.ServeDNS(w, q)
		if w.n != 1 {
			t.Fatalf("%d replies, want 1", w.n)
		}
		if w.err != nil {
			t.Fatalf("reply does not unpack: %v\nquery: %v", w.err, q)
		}
		if w.msg.Id != q.Id || !w.msg.Response {
			t.Fatalf("reply ID %d QR %v, want %d and QR", w.msg.Id, w.msg.Response, q.Id)
		}
		limit := dns.MinMsgSize
		if opt := q.IsEdns0(); opt != nil {
			limit = min(max(int(opt.UDPSize()), dns.MinMsgSize), 1232)
		}
		if !tcp && len(w.raw) > limit {
			t.Fatalf("UDP reply of %d bytes, limit %d", len(w.raw), limit)
		}
	})
}
