package e2e

import (
	"context"
	"github.com/poolnsd/poolnsd/internal/proctest"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/poolclient"
)

// reportAuthConfig is a config file with an admin token, a report token
// and reports.allow, and a report rate of rate per second in bursts of
// burst.
func reportAuthConfig(reportToken, allow string) string {
	return strings.Join([]string{
		`dns:`,
		`  listen: ["127.0.0.1:0"]`,
		`  udp_sockets: 1`,
		`http:`,
		`  listen: "127.0.0.1:0"`,
		`  token: "admin-token"`,
		`  report_token: "` + reportToken + `"`,
		`reports:`,
		`  allow: ["` + allow + `"]`,
		`  rate: 1`,
		`  burst: 3`,
		`zones: zones`,
		`data: data`,
		`log:`,
		`  level: debug`,
		`  format: json`,
	}, "\n") + "\n"
}

// reporterFrom is a poolclient.Reporter that connects from the local
// address src (a 127.x address: Linux routes 127.0.0.0/8 to loopback).
func reporterFrom(apiURL, token, src string) *poolclient.Reporter {
	d := &net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	return &poolclient.Reporter{URL: apiURL, Token: token, Client: &http.Client{Timeout: 5 * time.Second,
		Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}}}
}

// TestReportCredentials: a pool user reports with the report-only token
// (through poolclient), which cannot drain; a client in reports.allow
// reports without one; both are rate-limited per client; SIGHUP changes
// the report token and reports.allow live.
func TestReportCredentials(t *testing.T) {
	t.Parallel()
	dir := daemonDir(t, goodZone)
	writeFile(t, dir, "poolnsd.yaml", reportAuthConfig("report-token", "127.0.0.5/32"))
	p := startDaemon(t, dir)
	p.ready()
	api, _ := p.waitLog(0, "the HTTP API", msgIs("serving HTTP API"))
	apiURL := "http://" + api.Str("addr")
	el := netip.MustParseAddrPort("10.0.0.1:8080")
	ctx := context.Background()
	status := func(err error) string {
		if err == nil {
			return "202"
		}
		for _, s := range []string{"401", "403", "429"} {
			if strings.Contains(err.Error(), ": "+s+" ") {
				return s
			}
		}
		return err.Error()
	}
	want := func(what string, err error, code string) {
		t.Helper()
		if got := status(err); got != code {
			t.Errorf("%s: %s (%v), want %s", what, got, err, code)
		}
	}

	// The report token reports, from any address; it cannot drain.
	want("report token", reporterFrom(apiURL, "report-token", "127.0.0.1").Report(ctx, "web.pool.example", el), "202")
	if code, body := proctest.APIDo(t, "PUT", apiURL+"/v1/pools/web.pool.example/elements/"+handlespace.IDString(handlespace.ElementID(el.Addr(), el.Port()))+"/admin", "report-token", `{"state":"drain"}`); code != http.StatusUnauthorized {
		t.Errorf("a drain with the report token: %d %s, want 401", code, body)
	}
	// From 127.0.0.5 (reports.allow), no token is needed; from another
	// address it is.
	want("no token, inside reports.allow", reporterFrom(apiURL, "", "127.0.0.5").Report(ctx, "web.pool.example", el), "202")
	want("no token, outside reports.allow", reporterFrom(apiURL, "", "127.0.0.6").Report(ctx, "web.pool.example", el), "401")
	want("a wrong token, outside reports.allow", reporterFrom(apiURL, "nope", "127.0.0.6").Report(ctx, "web.pool.example", el), "401")
	// The admin token still reports.
	want("admin token", reporterFrom(apiURL, "admin-token", "127.0.0.7").Report(ctx, "web.pool.example", el), "202")

	// Rate-limited per client all the same (burst 3, 1 a second): each
	// client is refused within a few reports, the others not.
	for _, c := range []struct{ what, token, src string }{
		{"the allowed address", "", "127.0.0.5"},
		{"the report token", "report-token", "127.0.0.1"},
	} {
		limited := false
		for range 10 {
			if err := reporterFrom(apiURL, c.token, c.src).Report(ctx, "web.pool.example", el); status(err) == "429" {
				limited = true
				break
			} else if err != nil {
				t.Fatalf("%s: %v", c.what, err)
			}
		}
		if !limited {
			t.Errorf("%s: 10 reports in a row, none refused for the rate", c.what)
		}
	}

	// SIGHUP: a new report token and another allowed address, live.
	writeAtomic(t, dir, "poolnsd.yaml", reportAuthConfig("report-token-2", "127.0.0.8/32"))
	r := p.hup("configuration reloaded", msgIs("configuration reloaded"))
	if got := strings.Join(anyStrings(r["applied"]), " "); got != "http.report_token reports.allow" {
		t.Errorf("applied %q, want http.report_token reports.allow", got)
	}
	want("old report token after SIGHUP", reporterFrom(apiURL, "report-token", "127.0.0.9").Report(ctx, "web.pool.example", el), "401")
	want("new report token after SIGHUP", reporterFrom(apiURL, "report-token-2", "127.0.0.9").Report(ctx, "web.pool.example", el), "202")
	want("no token, newly allowed", reporterFrom(apiURL, "", "127.0.0.8").Report(ctx, "web.pool.example", el), "202")
	if err := reporterFrom(apiURL, "", "127.0.0.10").Report(ctx, "web.pool.example", el); status(err) != "401" {
		t.Errorf("no token, not allowed after SIGHUP: %v, want 401", err)
	}
}

// anyStrings turns a JSON list of strings into a []string.
func anyStrings(v any) []string {
	l, _ := v.([]any)
	out := make([]string, 0, len(l))
	for _, x := range l {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}
