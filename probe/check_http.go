package probe

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// MaxBody is how much of a response body an HTTP probe reads (and matches
// against): 64 KiB. The rest is not read.
const MaxBody = 64 << 10

// LoadHeader is the response header from which HTTP probes read the
// element's load: "Pool-Load: 0.35" or "Pool-Load: 35%".
const LoadHeader = "Pool-Load"

// HTTPChecker sends GET http(s)://ADDR:PORT/PATH and passes on the expected
// status (by default any 2xx) and body.
//
// Spec.Target is PATH[#EXPECT]. PATH (default "/") is sent as written,
// query included. The fragment, which HTTP never sends, holds the
// expectation: comma-separated terms, each a status code ("200"), a status
// class ("2xx") or "body=TEXT" (percent-decoded, so that "%20" is a space
// and "%2C" a comma). The status must match one of the status terms (2xx
// when there are none) and the first MaxBody bytes of the body must contain
// every TEXT. Examples: "/healthz", "/healthz#200", "/status#2xx,3xx",
// "/ready#body=ok".
//
// Each probe opens a new connection (no keep-alive), so that a server whose
// listener has gone fails at once even if an old connection still works.
// Redirects are not followed (3xx is a status like any other). The request's
// Host header is ADDR:PORT and, for https, no server name is sent and the
// certificate is not verified: probes address servers by IP address, and
// ask whether a server is alive, not who it is. No proxy is used.
//
// A response header "Pool-Load: 0.35" or "Pool-Load: 35%" sets Result.Load
// (any status); a malformed or out-of-range value is ignored.
type HTTPChecker struct {
	scheme string
	client *http.Client
}

var _ Checker = (*HTTPChecker)(nil)

// NewHTTPChecker returns the http checker, or with tls the https one.
func NewHTTPChecker(tls bool) *HTTPChecker {
	scheme := "http"
	if tls {
		scheme = "https"
	}
	tr := &http.Transport{
		Proxy:                  nil,
		DialContext:            dialer.DialContext,
		DisableKeepAlives:      true,
		DisableCompression:     true,
		TLSClientConfig:        &tlsConfigNoVerify,
		MaxResponseHeaderBytes: 64 << 10,
	}
	return &HTTPChecker{scheme: scheme, client: &http.Client{
		Transport:     tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

var tlsConfigNoVerify = tls.Config{InsecureSkipVerify: true}

// Check sends the request and checks the response.
func (h *HTTPChecker) Check(ctx context.Context, t Target) Result {
	tm := begin(ctx, t)
	ht, err := parseHTTPTarget(t.Spec.Target)
	if err != nil {
		return tm.fail(t, err.Error())
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.scheme+"://"+t.Addr.String()+ht.path, nil)
	if err != nil {
		return tm.fail(t, "bad request: "+err.Error())
	}
	req.Header.Set("User-Agent", "poolnsd-probe")
	resp, err := h.client.Do(req)
	if err != nil {
		return tm.failErr(ctx, t, "HTTP", err)
	}
	defer resp.Body.Close()
	var body []byte
	if len(ht.bodies) > 0 {
		body, err = io.ReadAll(io.LimitReader(resp.Body, MaxBody))
	} else {
		_, err = io.Copy(io.Discard, io.LimitReader(resp.Body, MaxBody))
	}
	if err != nil {
		return tm.failErr(ctx, t, "HTTP body", err)
	}
	r := tm.ok(t)
	r.Load, r.HasLoad = ParseLoad(resp.Header.Get(LoadHeader))
	if !ht.statusOK(resp.StatusCode) {
		r.OK, r.Err = false, fmt.Sprintf("HTTP status %d, want %s", resp.StatusCode, ht.want())
		return r
	}
	for _, b := range ht.bodies {
		if !strings.Contains(string(body), b) {
			r.OK, r.Err = false, fmt.Sprintf("body lacks %q", b)
			return r
		}
	}
	return r
}

// ParseLoad reads a load given as a fraction ("0.35") or a percentage
// ("35%"), between 0 and 1 (100 %). ok is false for anything else.
func ParseLoad(s string) (load float64, ok bool) {
	s = strings.TrimSpace(s)
	scale := 1.0
	if p, found := strings.CutSuffix(s, "%"); found {
		s, scale = strings.TrimSpace(p), 100
	}
	if s == "" {
		return 0, false
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || !(v >= 0 && v <= scale) { // also NaN
		return 0, false
	}
	return v / scale, true
}

// httpTarget is a parsed PATH[#EXPECT].
type httpTarget struct {
	path     string
	statuses []string // "200", "2xx"; none means 2xx
	bodies   []string
}

func parseHTTPTarget(s string) (httpTarget, error) {
	path, expect, hasExpect := strings.Cut(s, "#")
	if path == "" {
		path = "/"
	}
	if !strings.HasPrefix(path, "/") {
		return httpTarget{}, fmt.Errorf("bad probe path %q; want a path starting with /", path)
	}
	if _, err := url.ParseRequestURI(path); err != nil || strings.ContainsAny(path, " \t\r\n") {
		return httpTarget{}, fmt.Errorf("bad probe path %q; want a path starting with /", path)
	}
	ht := httpTarget{path: path}
	if !hasExpect {
		return ht, nil
	}
	for term := range strings.SplitSeq(expect, ",") {
		switch {
		case strings.HasPrefix(term, "body="):
			b, err := url.PathUnescape(term[len("body="):])
			if err != nil || b == "" {
				return httpTarget{}, fmt.Errorf("bad probe expectation %q; want body=TEXT, percent-encoded", term)
			}
			ht.bodies = append(ht.bodies, b)
		case statusTerm(term):
			ht.statuses = append(ht.statuses, strings.ToLower(term))
		default:
			return httpTarget{}, fmt.Errorf("bad probe expectation %q; want a status such as 200 or 2xx, or body=TEXT", term)
		}
	}
	return ht, nil
}

// statusTerm reports whether s is a status code 100–599 or a class 1xx–5xx.
func statusTerm(s string) bool {
	if len(s) != 3 || s[0] < '1' || s[0] > '5' {
		return false
	}
	if strings.EqualFold(s[1:], "xx") {
		return true
	}
	return s[1] >= '0' && s[1] <= '9' && s[2] >= '0' && s[2] <= '9'
}

func (ht httpTarget) statusOK(code int) bool {
	if len(ht.statuses) == 0 {
		return code >= 200 && code <= 299
	}
	c := strconv.Itoa(code)
	for _, s := range ht.statuses {
		if s == c || s[1:] == "xx" && s[0] == c[0] {
			return true
		}
	}
	return false
}

// want describes the accepted statuses: "2xx", "200 or 204".
func (ht httpTarget) want() string {
	if len(ht.statuses) == 0 {
		return "2xx"
	}
	return strings.Join(ht.statuses, " or ")
}
