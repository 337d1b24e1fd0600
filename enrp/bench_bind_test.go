package enrp_test

import (
	"runtime"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/poolnsd/poolnsd/enrp"
	"github.com/poolnsd/poolnsd/enrp/bind"
	"github.com/poolnsd/poolnsd/enrp/wire"
	"github.com/poolnsd/poolnsd/handlespace"
)

// BenchmarkHandoffReceive100k: the receiving side of a hand-off of 100 000
// registrations with a handlespace, as the driver runs it: the peer's half
// of the pages decoded and stepped, their operations applied together to
// its handlespace (the driver holds them while pages come in), and the
// handlespace's changes fed back to the Node.
func BenchmarkHandoffReceive100k(b *testing.B) {
	const n = 100000
	var cpu time.Duration
	for b.Loop() {
		b.StopTimer()
		a, p := enrp.HandoffNodes(b, n)
		hs := handlespace.New(handlespace.Options{RegistrarID: 2, Now: func() time.Time { return time.Unix(1e9, 0) }})
		soa, _ := dns.NewRR("pool.example. 60 IN SOA ns.pool.example. h.pool.example. 1 60 60 60 5")
		ns, _ := dns.NewRR("pool.example. 60 IN NS ns.pool.example.")
		glue, _ := dns.NewRR("ns.pool.example. 60 IN A 192.0.2.53")
		if err := hs.ApplyZones([]handlespace.ZoneDef{{Origin: "pool.example.", File: "x", Records: []dns.RR{soa, ns, glue}}}); err != nil {
			b.Fatal(err)
		}
		hb := bind.New(hs, 2)
		var ops []enrp.Op
		p.Entries(func(pool, policy string, e *handlespace.Element, gen uint32) {
			ops = append(ops, enrp.Op{Kind: enrp.OpPut, Pool: pool, ID: e.ID, Policy: policy, Elem: e})
		})
		if errs := hb.Apply(ops); len(errs) > 0 {
			b.Fatal(errs[0].Err)
		}
		p.Local(hb.Changes())
		r := a.Leave(nil)
		var raws [][]byte
		for _, env := range r.Msgs {
			if env.To == 2 {
				raw, _ := env.Msg.Encode()
				raws = append(raws, raw)
			}
		}
		runtime.GC()
		b.StartTimer()
		c0 := enrp.CPUTime()
		var pending []enrp.Op
		for _, raw := range raws {
			m, err := wire.Decode(raw)
			if err != nil {
				b.Fatal(err)
			}
			pending = append(pending, p.Step(m).Ops...)
		}
		if errs := hb.Apply(pending); len(errs) > 0 {
			b.Fatal(errs[0].Err)
		}
		p.Local(hb.Changes())
		cpu += enrp.CPUTime() - c0
		b.ReportMetric(float64(len(pending)), "ops")
	}
	b.ReportMetric(float64(cpu.Milliseconds())/float64(b.N), "cpu-ms/op")
}
