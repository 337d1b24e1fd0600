package dnsfront

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/poolnsd/poolnsd/metrics"
	"github.com/poolnsd/poolnsd/metrics/metricstest"
)

// scrape renders m's exposition and parses it.
func scrape(t *testing.T, m *metrics.Metrics) metricstest.Samples {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	s, err := metricstest.Parse(rec.Body)
	if err != nil {
		t.Fatalf("exposition does not parse: %v", err)
	}
	return s
}

// TestMetricsCounts: a known sequence of queries gives exact counts by
// query type, rcode and transport, truncations, and (with every query
// timed) a latency histogram that counts them all.
func TestMetricsCounts(t *testing.T) {
	m := metrics.New(metrics.Options{LatencySample: 1, NoRuntime: true})
	h := NewHandler(bigSpace(t, 1000, 5), Config{Metrics: m.DNS()})
	n := 0
	q := func(name string, qtype uint16, tcp bool, edns int) {
		query(t, h, name, qtype, tcp, edns)
		n++
	}
	for range 3 {
		q("web.pool.test.", dns.TypeA, false, 1232) // fast path
	}
	q("WeB.pool.test.", dns.TypeAAAA, false, 0)
	q("_http._tcp.web.pool.test.", dns.TypeSRV, true, 0)
	q("_http._tcp.web.pool.test.", dns.TypeSRV, true, 0)
	q("nothing.pool.test.", dns.TypeA, false, 0)      // NXDOMAIN
	q("dead.pool.test.", dns.TypeA, false, 0)         // NODATA: NOERROR
	q("txt.pool.test.", dns.TypeTXT, false, 0)        // static
	q("example.com.", dns.TypeA, false, 0)            // REFUSED
	q("big.pool.test.", dns.TypeSRV, false, 1232)     // truncated
	q("big.pool.test.", dns.TypeSRV, false, 0)        // truncated
	q("web.pool.test.", dns.TypeAXFR, true, 0)        // REFUSED
	q("web.pool.test.", dns.TypeNSEC3PARAM, false, 0) // NODATA, type "other"

	// BADVERS: EDNS version 1.
	bad := new(dns.Msg)
	bad.SetQuestion("web.pool.test.", dns.TypeA)
	bad.SetEdns0(1232, false)
	bad.IsEdns0().SetVersion(1)
	w := newRecorder(false)
	h.ServeDNS(w, bad)
	n++
	// No question: FORMERR, qtype "none".
	w = newRecorder(true)
	h.ServeDNS(w, &dns.Msg{MsgHdr: dns.MsgHdr{Id: 9}})
	if w.msg == nil || w.msg.Rcode != dns.RcodeFormatError {
		t.Fatalf("no question: reply %v, want FORMERR", w.msg)
	}
	n++

	s := scrape(t, m)
	want := []struct {
		labels []string
		n      float64
	}{
		{[]string{"qtype=A", "rcode=NOERROR", "transport=udp"}, 4},
		{[]string{"qtype=AAAA", "rcode=NOERROR", "transport=udp"}, 1},
		{[]string{"qtype=SRV", "rcode=NOERROR", "transport=tcp"}, 2},
		{[]string{"qtype=SRV", "rcode=NOERROR", "transport=udp"}, 2},
		{[]string{"qtype=A", "rcode=NXDOMAIN", "transport=udp"}, 1},
		{[]string{"qtype=A", "rcode=REFUSED", "transport=udp"}, 1},
		{[]string{"qtype=TXT", "rcode=NOERROR", "transport=udp"}, 1},
		{[]string{"qtype=AXFR", "rcode=REFUSED", "transport=tcp"}, 1},
		{[]string{"qtype=other", "rcode=NOERROR", "transport=udp"}, 1},
		{[]string{"qtype=A", "rcode=BADVERS", "transport=udp"}, 1},
		{[]string{"qtype=none", "rcode=FORMERR", "transport=tcp"}, 1},
	}
	var total float64
	for _, c := range want {
		got, ok := s.Value("poolnsd_dns_queries_total", c.labels...)
		if !ok || got != c.n {
			t.Errorf("poolnsd_dns_queries_total{%s} = %v (found %v), want %v", strings.Join(c.labels, ","), got, ok, c.n)
		}
		total += c.n
	}
	if sum := s.Sum("poolnsd_dns_queries_total"); sum != total || sum != float64(n) {
		t.Errorf("queries in all: %v, want %v (%d sent); series:\n%s", sum, total, n,
			strings.Join(s.Series("poolnsd_dns_queries_total"), "\n"))
	}
	if got, _ := s.Value("poolnsd_dns_truncated_total"); got != 2 {
		t.Errorf("truncated %v, want 2", got)
	}
	if got, _ := s.Value("poolnsd_dns_answer_duration_seconds"); got != float64(n) {
		t.Errorf("latency histogram counts %v, want every query (%d)", got, n)
	}
	if got, _ := s.Value("poolnsd_dns_answer_sample_ratio"); got != 1 {
		t.Errorf("sample ratio %v, want 1", got)
	}
}

// TestCountedBeforeWritten: every kind of reply (fast path, slow path,
// error rcodes, a query without a question) is counted by the time it is
// written, so that a client that has its answer and then scrapes finds it
// counted.
func TestCountedBeforeWritten(t *testing.T) {
	m := metrics.New(metrics.Options{NoRuntime: true})
	h := NewHandler(bigSpace(t, 10, 5), Config{Metrics: m.DNS()})
	sent := 0
	ask := func(what string, r *dns.Msg, tcp bool) {
		t.Helper()
		sent++
		w := newRecorder(tcp)
		var atWrite float64 = -1
		w.onWrite = func() { atWrite = scrape(t, m).Sum("poolnsd_dns_queries_total") }
		h.ServeDNS(w, r)
		if w.n != 1 || atWrite != float64(sent) {
			t.Errorf("%s: %d replies written, %v queries counted as it was written, want 1 and %d", what, w.n, atWrite, sent)
		}
	}
	q := func(name string, qtype uint16) *dns.Msg {
		r := new(dns.Msg)
		r.SetQuestion(name, qtype)
		return r
	}
	ask("fast path A", q("web.pool.test.", dns.TypeA), false)
	ask("SRV over TCP", q("_http._tcp.web.pool.test.", dns.TypeSRV), true)
	ask("static TXT", q("txt.pool.test.", dns.TypeTXT), false)
	ask("NXDOMAIN", q("nothing.pool.test.", dns.TypeA), false)
	ask("REFUSED", q("example.com.", dns.TypeA), false)
	ask("no question", &dns.Msg{MsgHdr: dns.MsgHdr{Id: 9}}, false)
}

// TestQueryLog: off, no line per query; on, one line per query with the
// client, the question and the rcode.
func TestQueryLog(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	h := NewHandler(newTestSpace(t), Config{Logger: log})
	query(t, h, "web.pool.test.", dns.TypeA, false, 0)
	query(t, h, "nothing.pool.test.", dns.TypeA, false, 0)
	if buf.Len() != 0 {
		t.Fatalf("query log off, but the log has:\n%s", buf.String())
	}
	h.SetQueryLog(true)
	query(t, h, "web.pool.test.", dns.TypeA, false, 0)
	query(t, h, "nothing.pool.test.", dns.TypeMX, true, 0)
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("query log has %d lines, want 2:\n%s", len(lines), buf.String())
	}
	for i, want := range []string{
		"msg=query client=192.0.2.200:40000 transport=udp qname=web.pool.test. qtype=A rcode=NOERROR tc=false size=",
		"msg=query client=192.0.2.200:40000 transport=tcp qname=nothing.pool.test. qtype=MX rcode=NXDOMAIN tc=false size=",
	} {
		if !strings.Contains(lines[i], want) {
			t.Errorf("query log line %d:\n%s\nwant it to contain\n%s", i, lines[i], want)
		}
	}
	h.SetQueryLog(false)
	buf.Reset()
	query(t, h, "web.pool.test.", dns.TypeA, false, 0)
	if buf.Len() != 0 {
		t.Fatalf("query log turned off, but the log has:\n%s", buf.String())
	}
}

// BenchmarkServeMetrics is BenchmarkServe with the metrics on (the default
// latency sample): compare the two in one run.
func BenchmarkServeMetrics(b *testing.B) {
	for _, sample := range []int{metrics.DefaultLatencySample, 1} {
		m := metrics.New(metrics.Options{LatencySample: sample, NoRuntime: true})
		h := NewHandler(newTestSpace(b), Config{Metrics: m.DNS()})
		for _, c := range []struct {
			name  string
			qtype uint16
		}{
			{"web.pool.test.", dns.TypeA},
			{"_http._tcp.web.pool.test.", dns.TypeSRV},
			{"nothing.pool.test.", dns.TypeA},
		} {
			msg := new(dns.Msg)
			msg.SetQuestion(c.name, c.qtype)
			msg.SetEdns0(1232, false)
			b.Run(fmt.Sprintf("sample=%d/%s/%s", sample, c.name, dns.TypeToString[c.qtype]), func(b *testing.B) {
				w := &discard{}
				b.ReportAllocs()
				for b.Loop() {
					h.ServeDNS(w, msg)
				}
			})
		}
	}
}

// BenchmarkServeParallel: the A fast path from every P at once, with and
// without metrics, to see what the shared counters cost under contention.
func BenchmarkServeParallel(b *testing.B) {
	for _, on := range []bool{false, true} {
		var dm *metrics.DNS
		if on {
			dm = metrics.New(metrics.Options{NoRuntime: true}).DNS()
		}
		h := NewHandler(newTestSpace(b), Config{Metrics: dm})
		msg := new(dns.Msg)
		msg.SetQuestion("web.pool.test.", dns.TypeA)
		b.Run(fmt.Sprintf("metrics=%v", on), func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				w := &discard{}
				for pb.Next() {
					h.ServeDNS(w, msg)
				}
			})
		})
	}
}

// TestUDPSojourn: with UDPSojourn, every UDP query answered in its loop
// (all timed: a sample of one in one) has its sojourn in the histogram;
// without it, none (the setting is off by default: the kernel's time
// stamps cost CPU per query).
func TestUDPSojourn(t *testing.T) {
	for _, on := range []bool{true, false} {
		m := metrics.New(metrics.Options{LatencySample: 1, NoRuntime: true})
		srv, err := Start(Config{Listen: []string{"127.0.0.1:0"}, UDPSockets: 1, Logger: discardLog(),
			Metrics: m.DNS(), UDPSojourn: on}, newTestSpace(t))
		if err != nil {
			t.Fatal(err)
		}
		c := &dns.Client{Timeout: 5 * time.Second}
		const n = 5
		for range n {
			q := new(dns.Msg)
			q.SetQuestion("web.pool.test.", dns.TypeA)
			if _, _, err := c.Exchange(q, srv.Addrs()[0].String()); err != nil {
				t.Fatal(err)
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		srv.Shutdown(ctx) // the loop has recorded every batch
		cancel()
		want := 0.0
		if on {
			want = n
		}
		if got, _ := scrape(t, m).Value("poolnsd_dns_udp_sojourn_seconds"); got != want {
			t.Errorf("UDPSojourn %v: %v sojourns, want %v", on, got, want)
		}
	}
}
