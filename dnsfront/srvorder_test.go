package dnsfront

import (
	"testing"

	"github.com/miekg/dns"
	"github.com/poolnsd/poolnsd/handlespace"
)

// randomPools are pools whose order is a weighted random draw: rand of
// four, rlu of four (one fully loaded), rplu of three.
func randomPools() []handlespace.PoolDef {
	spec := func(policy string) handlespace.PoolSpec {
		s := handlespace.DefaultPoolSpec()
		s.Policy, s.Service, s.URI = policy, "_http._tcp", "http://{name}:{port}/"
		return s
	}
	loaded := func(e *handlespace.Element, load, deg float64) *handlespace.Element {
		e.Load, e.LoadDeg = handlespace.LoadFromFraction(load), handlespace.LoadFromFraction(deg)
		return e
	}
	return []handlespace.PoolDef{
		{Handle: "rnd", Spec: spec("rand"), Elements: []*handlespace.Element{
			elem("r1", "10.0.5.1", 80, 1), elem("r2", "10.0.5.2", 80, 7),
			elem("r3", "10.0.5.3", 80, 1), elem("r4", "10.0.5.4,2001:db8::5:4", 80, 1),
		}},
		{Handle: "rl", Spec: spec("rlu"), Elements: []*handlespace.Element{
			loaded(elem("l1", "10.0.6.1", 80, 1), 0, 0), loaded(elem("l2", "10.0.6.2", 80, 1), 0.5, 0),
			loaded(elem("l3", "10.0.6.3", 80, 1), 0.75, 0), loaded(elem("l4", "10.0.6.4", 80, 1), 1, 0),
		}},
		{Handle: "rp", Spec: spec("rplu"), Elements: []*handlespace.Element{
			loaded(elem("p1", "10.0.7.1", 80, 1), 0, 0.25), loaded(elem("p2", "10.0.7.2", 80, 1), 0.5, 0.25),
			loaded(elem("p3", "10.0.7.3", 80, 1), 0.5, 0.6),
		}},
	}
}

// TestRandomPolicySRV: the SRV and URI answers of rand, rlu and rplu pools
// carry one priority and each element's weight in the policy (equal for
// rand, the capacity left for rlu and rplu; none left: priority 1), the
// records in the order the policy drew (each element first in some
// answers), so that every answer of a pool is one RRset: the same records
// whatever the draw, from the wire renderer and the dns.Msg renderer.
func TestRandomPolicySRV(t *testing.T) {
	hs := newTestSpace(t, randomPools()...)
	h := NewHandler(hs, Config{})
	want := map[string]map[string][2]uint16{ // pool → target → priority, weight
		"rnd": {"r1": {0, 1}, "r2": {0, 1}, "r3": {0, 1}, "r4": {0, 1}},
		"rl":  {"l1": {0, 65535}, "l2": {0, 32768}, "l3": {0, 16384}, "l4": {1, 1}},
		"rp":  {"p1": {0, 49152}, "p2": {0, 16384}, "p3": {1, 1}},
	}
	for pool, targets := range want {
		for _, qt := range []uint16{dns.TypeSRV, dns.TypeURI} {
			name := "_http._tcp." + pool + ".pool.test."
			first := map[string]int{}
			var set string
			for q := range 200 {
				m := query(t, h, name, qt, q%2 == 0, 1232)
				if len(m.Answer) != len(targets) {
					t.Fatalf("%s %s: %d answers, want %d: %v", name, dns.Type(qt), len(m.Answer), len(targets), m.Answer)
				}
				for i, rr := range m.Answer {
					var target string
					var prio, weight uint16
					switch rr := rr.(type) {
					case *dns.SRV:
						target, prio, weight = rr.Target, rr.Priority, rr.Weight
					case *dns.URI:
						target, prio, weight = rr.Target, rr.Priority, rr.Weight
					}
					var label string
					for l := range targets {
						if target == l+"."+pool+".pool.test." || target == "http://"+l+"."+pool+".pool.test:80/" {
							label = l
						}
					}
					w, ok := targets[label]
					if !ok || prio != w[0] || weight != w[1] {
						t.Fatalf("%s %s: %v, want one of %v", name, dns.Type(qt), rr, targets)
					}
					if i == 0 {
						first[label]++
					}
				}
				if s := lowerText(m.Answer); set == "" {
					set = s
				} else if s != set {
					t.Fatalf("%s %s: query %d answers another RRset:\n%s\nwant\n%s", name, dns.Type(qt), q, s, set)
				}
			}
			// The draw still orders the records: every element with
			// capacity comes first in some of 200 answers (each at least
			// 1/7 likely: a miss is at most 4 × (6/7)^200, about 10⁻¹³).
			for l, w := range targets {
				if w[0] == 0 && first[l] == 0 {
					t.Errorf("%s %s: %s never first in 200 answers: %v", name, dns.Type(qt), l, first)
				}
				if w[0] == 1 && first[l] != 0 {
					t.Errorf("%s %s: %s, without capacity, first %d times", name, dns.Type(qt), l, first[l])
				}
			}
		}
	}
}

// TestSignedRandomPolicySRV: signed SRV answers of a rand and an rlu pool
// cost one signature of the answer RRset, not one per draw: after the
// first answer (which signs the answer and its targets' address RRsets),
// further answers make no signature; and the dns.Msg renderer's signed
// answer is the wire renderer's.
func TestSignedRandomPolicySRV(t *testing.T) {
	signer, key := newTestSigner(t, dns.ECDSAP256SHA256)
	z := signer.Zone("pool.test.")
	space := func() *handlespace.Handlespace {
		hs := handlespace.New(handlespace.Options{RegistrarID: 7})
		def := handlespace.ZoneDef{Origin: "pool.test.", File: "test.zone", Records: mustRRs(t, secureZone), Pools: randomPools()}
		if err := hs.ApplyZones([]handlespace.ZoneDef{def}); err != nil {
			t.Fatal(err)
		}
		return hs
	}
	h := NewHandler(space(), Config{Signer: signer})
	msg := NewHandler(space(), Config{Signer: signer})
	for _, pool := range []string{"rnd", "rl", "rp"} {
		name := "_http._tcp." + pool + ".pool.test."
		queryDO(t, h, name, dns.TypeSRV, false, 4096, true)
		before := signer.CacheStats()
		for q := range 100 {
			a := queryDO(t, h, name, dns.TypeSRV, q%2 == 1, 4096, true)
			checkSigs(t, a, key, func(rrsetKey) bool { return true })
			if q < 5 {
				b := msgRendered(t, msg, z, name, dns.TypeSRV, q%2 == 1, 4096)
				for i, sec := range [][2][]dns.RR{{a.Answer, b.Answer}, {a.Extra, b.Extra}} {
					if got, want := lowerText(sec[0]), lowerText(sec[1]); got != want {
						t.Errorf("%s: section %d: wire renderer\n%s\ndns.Msg renderer\n%s", name, i, got, want)
					}
				}
			}
		}
		after := signer.CacheStats()
		if n := after.Misses - before.Misses; n != 0 {
			t.Errorf("%s: %d signatures made in 100 signed SRV answers after the first, want 0 (%+v)", name, n, after)
		}
	}
}
