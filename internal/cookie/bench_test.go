package cookie

import (
	"net/netip"
	"testing"
	"time"
)

// benchQuery is a valid cookie from client at now.
func benchQuery(b *testing.B, client netip.Addr) (*Jar, []byte, time.Time) {
	j := NewJar(Secrets{Current: secret(b, "e5e973e5a6b2a43f48e7dc849e37bfcf")})
	now := time.Unix(1_700_000_000, 0)
	cc := [8]byte{1, 2, 3, 4, 5, 6, 7, 8}
	sc := j.ServerCookie(&cc, client, now)
	return j, append(cc[:], sc[:]...), now.Add(time.Minute)
}

// BenchmarkCheck: the per-query cost of a query with a valid server cookie:
// find the option in the OPT RDATA, check it, decide and append the
// reply's option (an echo: one SipHash).
func BenchmarkCheck(b *testing.B) {
	for _, c := range []struct{ name, ip string }{{"ipv4", "192.0.2.1"}, {"ipv6", "2001:db8::1"}} {
		b.Run(c.name, func(b *testing.B) {
			client := netip.MustParseAddr(c.ip)
			j, q, now := benchQuery(b, client)
			rdata := append([]byte{0, 10, 0, byte(len(q))}, q...)
			out := make([]byte, 0, 64)
			b.ReportAllocs()
			defer reportCPU(b)()
			for b.Loop() {
				var o Option
				st := None
				if data, ok := FindOption(rdata); ok {
					st = j.Check(data, client, now, &o)
				}
				if Decide(st, false) != Answer || st != Valid {
					b.Fatal(st)
				}
				out = j.AppendOption(out[:0], &o, st, client, now)
			}
		})
	}
}

// BenchmarkClientOnly: a query with a client cookie only: the reply's
// server cookie is made (one SipHash).
func BenchmarkClientOnly(b *testing.B) {
	client := netip.MustParseAddr("192.0.2.1")
	j, q, now := benchQuery(b, client)
	out := make([]byte, 0, 64)
	b.ReportAllocs()
	defer reportCPU(b)()
	for b.Loop() {
		var o Option
		st := j.Check(q[:8], client, now, &o)
		out = j.AppendOption(out[:0], &o, st, client, now)
	}
}

// BenchmarkInvalid: a forged server cookie, with a previous secret set:
// two SipHashes to refuse it, one for the BADCOOKIE's fresh cookie.
func BenchmarkInvalid(b *testing.B) {
	client := netip.MustParseAddr("192.0.2.1")
	j, q, now := benchQuery(b, client)
	prev := secret(b, "445536bcd2513298075a5d379663c962")
	j.SetSecrets(Secrets{Current: secret(b, "e5e973e5a6b2a43f48e7dc849e37bfcf"), Previous: &prev})
	q[len(q)-1] ^= 1
	out := make([]byte, 0, 64)
	b.ReportAllocs()
	defer reportCPU(b)()
	for b.Loop() {
		var o Option
		st := j.Check(q, client, now, &o)
		if Decide(st, false) != BadCookie {
			b.Fatal(st)
		}
		out = j.AppendOption(out[:0], &o, st, client, now)
	}
}

// BenchmarkSipHash24: one hash of the 20 bytes of an IPv4 cookie.
func BenchmarkSipHash24(b *testing.B) {
	msg := make([]byte, 20)
	b.SetBytes(20)
	defer reportCPU(b)()
	for b.Loop() {
		msg[0] = byte(sipHash24(1, 2, msg))
	}
}
