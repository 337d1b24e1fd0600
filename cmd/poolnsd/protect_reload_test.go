package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TestProtectionsReload: SIGHUP applies the DNS front's protections: an
// NSID set in the file is sent after the reload, and an allow_query that
// leaves the client out refuses it, with Extended DNS Error 18.
func TestProtectionsReload(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, dir, "zones/pool.example.zone", `$ORIGIN pool.example.
$TTL 300
@      SOA ns1 hostmaster 1 3600 600 86400 5
@      NS  ns1
ns1    A   192.0.2.53
$POOL web
web    PE 192.0.2.10:80
`)
	conf := func(extra string) {
		writeFile(t, dir, "poolnsd.yaml", `dns:
  listen: ["127.0.0.1:0"]
`+extra+`http:
  listen: "127.0.0.1:0"
zones: zones
data: data
log:
  format: json
`)
	}
	conf("")
	p := startDaemon(t, dir)
	addr, _ := p.ready()
	ask := func() *dns.Msg {
		t.Helper()
		m := new(dns.Msg)
		m.SetQuestion("web.pool.example.", dns.TypeA)
		m.SetEdns0(1232, false)
		m.IsEdns0().Option = append(m.IsEdns0().Option, &dns.EDNS0_NSID{Code: dns.EDNS0NSID})
		r, _, err := (&dns.Client{Timeout: 3 * time.Second}).Exchange(m, addr)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	option := func(r *dns.Msg, code uint16) dns.EDNS0 {
		if opt := r.IsEdns0(); opt != nil {
			for _, o := range opt.Option {
				if o.Option() == code {
					return o
				}
			}
		}
		return nil
	}
	if r := ask(); len(r.Answer) != 1 || option(r, dns.EDNS0NSID) != nil {
		t.Fatalf("before: %v; want the answer and no NSID", r)
	}
	conf("  nsid: reload-test\n")
	p.hup("the reload", func(r logRec) bool { return r.Str("msg") == "configuration reloaded" })
	if r := ask(); option(r, dns.EDNS0NSID) == nil || option(r, dns.EDNS0NSID).(*dns.EDNS0_NSID).Nsid != "72656c6f61642d74657374" {
		t.Errorf("after nsid: reload-test: %v", r)
	}
	conf("  nsid: reload-test\n  allow_query: [\"192.0.2.0/24\"]\n")
	rec := p.hup("the reload", func(r logRec) bool { return r.Str("msg") == "configuration reloaded" })
	if !strings.Contains(fmt.Sprint(rec["applied"]), "dns.allow_query") {
		t.Errorf("reload log %v, want dns.allow_query applied", rec)
	}
	r := ask()
	ede, _ := option(r, dns.EDNS0EDE).(*dns.EDNS0_EDE)
	if r.Rcode != dns.RcodeRefused || ede == nil || ede.InfoCode != 18 {
		t.Errorf("from outside allow_query: %v; want REFUSED with EDE 18", r)
	}
}
