package dnsfront

import (
	"context"
	"encoding/base64"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/poolnsd/poolnsd/internal/proctest"
	"github.com/poolnsd/poolnsd/internal/updatetest"
)

// Signed queries (RFC 8945): a query signed with a known key gets a signed
// reply, whatever its rcode and over UDP and TCP; one whose signature
// fails gets NOTAUTH with the TSIG error, and nothing else.

func startQueryServer(t *testing.T) string {
	t.Helper()
	addr, _ := serveTest(t, Config{Logger: discardLog(), TSIG: testKeys}, newTestSpace(t, bigPool(200, 5)))
	return addr
}

func TestSignedQueries(t *testing.T) {
	addr := startQueryServer(t)
	secrets := map[string]string{updatetest.KeyAll: base64.StdEncoding.EncodeToString(updatetest.Secret), updatetest.KeyAPI: base64.StdEncoding.EncodeToString(updatetest.Secret)}

	// Signed with either key, over UDP and TCP, answers of every kind: the
	// client verifies the signed reply (Exchange fails otherwise).
	for _, c := range []struct {
		key, alg, name string
		qtype          uint16
		rcode, answers int
	}{
		{updatetest.KeyAll, dns.HmacSHA256, "web.pool.test.", dns.TypeA, dns.RcodeSuccess, 3},              // a pool (fast path when unsigned)
		{updatetest.KeyAll, dns.HmacSHA256, "_http._tcp.web.pool.test.", dns.TypeSRV, dns.RcodeSuccess, 4}, // SRV with glue
		{updatetest.KeyAPI, dns.HmacSHA512, "w1.web.pool.test.", dns.TypeA, dns.RcodeSuccess, 1},           // any key signs any query
		{updatetest.KeyAll, dns.HmacSHA256, "ns1.pool.test.", dns.TypeA, dns.RcodeSuccess, 1},              // static
		{updatetest.KeyAll, dns.HmacSHA256, "nothing.pool.test.", dns.TypeA, dns.RcodeNameError, 0},
		{updatetest.KeyAll, dns.HmacSHA256, "example.com.", dns.TypeA, dns.RcodeRefused, 0},
	} {
		for _, network := range []string{"udp", "tcp"} {
			m := new(dns.Msg)
			m.SetQuestion(c.name, c.qtype)
			m.SetEdns0(1232, false)
			m.SetTsig(c.key, c.alg, 300, time.Now().Unix())
			cl := &dns.Client{Net: network, Timeout: 5 * time.Second, TsigSecret: secrets}
			r, _, err := cl.Exchange(m, addr)
			if err != nil {
				t.Errorf("%s %s %s: %v", network, c.name, c.key, err)
				continue
			}
			ts := r.IsTsig()
			if ts == nil || ts.Hdr.Name != c.key || ts.Error != dns.RcodeSuccess {
				t.Errorf("%s %s: reply TSIG %v, want one of %s without error", network, c.name, ts, c.key)
			}
			if r.Rcode != c.rcode || len(r.Answer) != c.answers {
				t.Errorf("%s %s: %s with %d answers, want %s with %d", network, c.name, dns.RcodeToString[r.Rcode], len(r.Answer), dns.RcodeToString[c.rcode], c.answers)
			}
		}
	}

	// A signed UDP query without EDNS for all of a pool of 200: truncated
	// to 512 bytes with the signature in them.
	m := new(dns.Msg)
	m.SetQuestion("big.pool.test.", dns.TypeSRV)
	b := signed(t, m, updatetest.KeyAll, dns.HmacSHA256, updatetest.Secret, time.Now())
	raw := rawExchange(t, addr, b)
	if len(raw) > dns.MinMsgSize {
		t.Errorf("signed truncated reply of %d bytes, over %d", len(raw), dns.MinMsgSize)
	}
	r := unpack(t, raw)
	if !r.Truncated || r.IsTsig() == nil {
		t.Errorf("big SRV over UDP: TC=%v TSIG=%v, want a truncated signed reply", r.Truncated, r.IsTsig())
	}
	if err := dns.TsigVerify(raw, secrets[updatetest.KeyAll], requestMAC(t, b), false); err != nil {
		t.Errorf("truncated reply's TSIG does not verify: %v", err)
	}

	// Failures: NOTAUTH and the TSIG error, no answer.
	for _, c := range []struct {
		what   string
		key    string
		secret []byte
		at     time.Time
		tsigRc uint16
	}{
		{"wrong secret", updatetest.KeyAll, []byte("another secret, of 32 bytes!!!!"), time.Now(), dns.RcodeBadSig},
		{"unknown key", "nobody.", updatetest.Secret, time.Now(), dns.RcodeBadKey},
		{"an hour late", updatetest.KeyAll, updatetest.Secret, time.Now().Add(-time.Hour), dns.RcodeBadTime},
	} {
		m := new(dns.Msg)
		m.SetQuestion("web.pool.test.", dns.TypeA)
		r := unpack(t, rawExchange(t, addr, signed(t, m, c.key, dns.HmacSHA256, c.secret, c.at)))
		ts := r.IsTsig()
		if r.Rcode != dns.RcodeNotAuth || ts == nil || ts.Error != c.tsigRc || len(r.Answer) != 0 {
			t.Errorf("%s: %s, TSIG %v, %d answers; want NOTAUTH, TSIG error %s, none", c.what, dns.RcodeToString[r.Rcode], ts, len(r.Answer), dns.RcodeToString[int(c.tsigRc)])
		}
	}
}

// TestSignedQueriesTools: dig -y and kdig -y verify poolnsd's signed
// replies (they say so when a reply is unsigned or fails to verify).
func TestSignedQueriesTools(t *testing.T) {
	addr := startQueryServer(t)
	host, port, _ := strings.Cut(addr, ":")
	secret := base64.StdEncoding.EncodeToString(updatetest.Secret)
	for _, tool := range []struct {
		name, pkg string
		limits    []string
	}{
		{"dig", "bind9-dnsutils", []string{proctest.ToolTime, "+tries=1"}},
		{"kdig", "knot-dnsutils", []string{proctest.ToolTime, "+retry=0"}},
	} {
		path := proctest.LookTool(t, tool.name, tool.pkg)
		for _, transport := range []string{"+notcp", "+tcp"} {
			ctx, cancel := context.WithTimeout(context.Background(), proctest.ToolLimit)
			args := append([]string{"@" + host, "-p", port, "+norecurse", transport}, tool.limits...)
			args = append(args, "-y", "hmac-sha256:"+strings.TrimSuffix(updatetest.KeyAll, ".")+":"+secret, "_http._tcp.web.pool.test.", "SRV")
			out, err := exec.CommandContext(ctx, path, args...).CombinedOutput()
			cancel()
			s := string(out)
			if err != nil {
				t.Errorf("%s %s: %v\n%s", tool.name, transport, err, s)
				continue
			}
			if !strings.Contains(s, "NOERROR") || !strings.Contains(s, "SRV") {
				t.Errorf("%s %s: no NOERROR answer with SRV records:\n%s", tool.name, transport, s)
			}
			if !strings.Contains(s, "TSIG") {
				t.Errorf("%s %s: no TSIG in the reply:\n%s", tool.name, transport, s)
			}
			for _, bad := range []string{"verify", "expected a TSIG", "BADSIG", "BADKEY", "tsig indicates error", "failed", "WARNING"} {
				if strings.Contains(s, bad) {
					t.Errorf("%s %s: %q in the output:\n%s", tool.name, transport, bad, s)
				}
			}
		}
	}
}
