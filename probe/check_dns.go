package probe

import (
	"context"
	"fmt"
	"time"

	"github.com/miekg/dns"
)

// DNSChecker passes when the target answers a query for Spec.Target type A
// over UDP with rcode NOERROR, with or without records in the answer (an
// authoritative server that has the name but no A record is healthy). The
// query has RD set, so that recursive resolvers can be probed too; one
// query is sent per probe, without retries (a lost datagram is one failed
// probe, which Spec.Fall absorbs).
type DNSChecker struct{}

var _ Checker = DNSChecker{}

// Check sends the query and checks the answer's rcode.
func (DNSChecker) Check(ctx context.Context, t Target) Result {
	tm := begin(ctx, t)
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(t.Spec.Target), dns.TypeA)
	c := dns.Client{Net: "udp"}
	if d, ok := ctx.Deadline(); ok {
		// miekg/dns applies its own 2 s default to each step unless told.
		c.Timeout = max(time.Until(d), time.Millisecond)
	}
	r, _, err := c.ExchangeContext(ctx, m, t.Addr.String())
	if err != nil {
		return tm.failErr(ctx, t, "DNS", err)
	}
	if r.Rcode != dns.RcodeSuccess {
		return tm.fail(t, fmt.Sprintf("DNS rcode %s, want NOERROR", rcodeName(r.Rcode)))
	}
	return tm.ok(t)
}

func rcodeName(rc int) string {
	if s, ok := dns.RcodeToString[rc]; ok {
		return s
	}
	return fmt.Sprintf("RCODE%d", rc)
}

func dnsIsName(s string) (int, bool) { return dns.IsDomainName(s) }
