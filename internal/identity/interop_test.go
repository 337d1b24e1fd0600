package identity

import (
	"encoding/hex"
	"net"
	"os/exec"
	"strings"
	"testing"

	"github.com/miekg/dns"
	"github.com/poolnsd/poolnsd/internal/proctest"
)

// startServer serves id on UDP at 127.0.0.1: CHAOS queries from Chaos,
// NSID when asked, REFUSED for the rest, as the DNS front is to.
func startServer(t *testing.T, id *Identity) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		q := r.Question[0]
		m.Rcode = dns.RcodeRefused
		if q.Qclass == dns.ClassCHAOS {
			rr, res := id.ChaosRR(q)
			switch res {
			case Answer:
				m.Rcode, m.Authoritative = dns.RcodeSuccess, true
				m.Answer = append(m.Answer, rr)
			case NoData:
				m.Rcode, m.Authoritative = dns.RcodeSuccess, true
			}
		}
		if opt := r.IsEdns0(); opt != nil {
			m.SetEdns0(1232, false)
			for _, o := range opt.Option {
				if o.Option() == dns.EDNS0NSID && id.NSID() != nil {
					m.IsEdns0().Option = append(m.IsEdns0().Option, &dns.EDNS0_NSID{Code: dns.EDNS0NSID, Nsid: hex.EncodeToString(id.NSID())})
				}
			}
		}
		w.WriteMsg(m)
	})
	srv := &dns.Server{PacketConn: pc, Handler: h}
	started := make(chan struct{})
	srv.NotifyStartedFunc = func() { close(started) }
	go srv.ActivateAndServe()
	<-started
	t.Cleanup(func() { srv.Shutdown() })
	return pc.LocalAddr().String()
}

func tool(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %q: %v\n%s", name, args, err, out)
	}
	return string(out)
}

// TestDigKdigIdentity: dig and kdig read the NSID and the CHAOS TXT
// answers.
func TestDigKdigIdentity(t *testing.T) {
	dig := proctest.LookTool(t, "dig", "bind9-dnsutils")
	kdig := proctest.LookTool(t, "kdig", "knot-dnsutils")
	id, err := New(Config{NSID: "auto", Version: "poolnsd test", AutoID: "0000beef"})
	if err != nil {
		t.Fatal(err)
	}
	host, port, _ := net.SplitHostPort(startServer(t, id))
	at := []string{"@" + host, "-p", port, "+tries=1", proctest.ToolTime}
	kat := []string{"@" + host, "-p", port, "+retry=0", proctest.ToolTime}

	out := tool(t, dig, append(at, "+nsid", "example.", "A")...)
	if !strings.Contains(out, `; NSID: 30 30 30 30 62 65 65 66 ("0000beef")`) {
		t.Errorf("dig +nsid: no NSID 0000beef:\n%s", out)
	}
	out = tool(t, dig, append(at, "+short", "CH", "TXT", "id.server.")...)
	if strings.TrimSpace(out) != `"0000beef"` {
		t.Errorf("dig CH TXT id.server.: %q", out)
	}
	out = tool(t, dig, append(at, "+short", "CH", "TXT", "version.bind.")...)
	if strings.TrimSpace(out) != `"poolnsd test"` {
		t.Errorf("dig CH TXT version.bind.: %q", out)
	}
	out = tool(t, kdig, append(kat, "+nsid", "example.", "A")...)
	if !strings.Contains(out, "NSID: 3030303062656566") || !strings.Contains(out, `"0000beef"`) {
		t.Errorf("kdig +nsid: no NSID 0000beef:\n%s", out)
	}
	out = tool(t, kdig, append(kat, "+short", "-c", "CH", "-t", "TXT", "hostname.bind.")...)
	if strings.TrimSpace(out) != `"0000beef"` {
		t.Errorf("kdig CH TXT hostname.bind.: %q", out)
	}
	out = tool(t, dig, append(at, "CH", "TXT", "authors.bind.")...)
	if !strings.Contains(out, "status: REFUSED") {
		t.Errorf("dig CH TXT authors.bind.: want REFUSED:\n%s", out)
	}
}
