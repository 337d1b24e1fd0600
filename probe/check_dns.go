package probe

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/miekg/dns"
	"github.com/poolnsd/poolnsd/probe/probespec"
)

// DNSChecker passes when the target answers a query over UDP with an
// expected rcode, with or without records in the answer (an authoritative
// server that has the name but not the type is healthy).
//
// Spec.Target is NAME[#TERM,...]: the name queried, then terms separated
// by commas, each an rcode name (NOERROR, NXDOMAIN, REFUSED, …; the answer
// must have one of them, NOERROR when none is given) or type=TYPE, the type
// queried (default A). Examples: "www.example.com",
// "www.example.com#type=AAAA", "probe.invalid#NXDOMAIN".
//
// The query has RD set, so that recursive resolvers can be probed too, and
// a random ID; an answer that does not match the query (ID, question) is
// ignored, as miekg/dns does. One query is sent per probe, without retries:
// a lost datagram is one failed probe, which Spec.Fall absorbs. A truncated
// answer counts by its rcode.
type DNSChecker struct {
	targets parsedCache[*probespec.DNS]
}

var _ Checker = (*DNSChecker)(nil)

// Check sends the query and checks the answer's rcode.
func (d *DNSChecker) Check(ctx context.Context, t Target) Result {
	tm := begin(ctx, t)
	dt, err := d.targets.get(t.Spec.Target, probespec.ParseDNS)
	if err != nil {
		return tm.fail(t, "bad probe target: "+err.Error())
	}
	m := new(dns.Msg)
	m.SetQuestion(dt.Name, dt.Qtype)
	c := dns.Client{Net: "udp", UDPSize: dns.MinMsgSize}
	if src, ok := t.source(); ok {
		c.Dialer = &net.Dialer{LocalAddr: &net.UDPAddr{IP: src.AsSlice()}}
	}
	if dl, ok := ctx.Deadline(); ok {
		// miekg/dns applies its own 2 s default to each step unless told.
		c.Timeout = max(time.Until(dl), time.Millisecond)
	}
	r, _, err := c.ExchangeContext(ctx, m, t.Addr.String())
	if err != nil {
		return tm.failErr(ctx, t, "DNS", err)
	}
	if !dt.RcodeOK(r.Rcode) {
		return tm.fail(t, fmt.Sprintf("DNS rcode %s, want %s", probespec.RcodeName(r.Rcode), dt.Want()))
	}
	return tm.ok(t)
}
