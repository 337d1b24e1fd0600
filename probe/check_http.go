package probe

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// MaxBody is how much of a response body an HTTP probe reads and matches
// against: 64 KiB. The rest is not read.
const MaxBody = 64 << 10

// LoadHeader is the response header from which HTTP probes read the
// element's load: "Pool-Load: 0.35" or "Pool-Load: 35%".
const LoadHeader = "Pool-Load"

// HTTPChecker sends GET PATH over HTTP/1.1 (or HTTPS) to the target's
// address and passes on the expected status (by default any 2xx) and body.
//
// Spec.Target is PATH[#TERM,...]. PATH (default "/") is sent as written,
// query included. The fragment, which HTTP never sends, holds the terms,
// separated by commas:
//
//   - a status code ("200") or class ("2xx"): the status must match one of
//     them (2xx when there are none);
//   - body=TEXT (percent-decoded, so "%20" is a space and "%2C" a comma):
//     the first MaxBody bytes of the body must contain TEXT;
//   - host=NAME: the Host header, and for https the server name (SNI);
//     without it the Host header is ADDR:PORT and no SNI is sent.
//
// Examples: "/healthz", "/healthz#200", "/status#2xx,3xx",
// "/ready#body=ok", "/#host=www.example.com".
//
// Each probe opens a new connection and sends "Connection: close", so that
// a server whose listener has gone fails at once even if an old connection
// still works, and closes it with a reset once it has what it needs, so
// that thousands of probes a second leave no TIME_WAIT sockets. Redirects
// are not followed (3xx is a status like any other). For https the
// certificate is not verified: probes address servers by IP address and
// ask whether a server is alive, not who it is. No proxy is used.
//
// The checker is net/http's response parser on a plain connection rather
// than an http.Client: no connection pool and no goroutines per request,
// which matters at 10 000 probes a second.
//
// A response header "Pool-Load: 0.35" or "Pool-Load: 35%" sets Result.Load
// (whatever the status); a malformed or out-of-range value is ignored.
type HTTPChecker struct {
	tls     bool
	targets parsedCache[*httpTarget]
}

var _ Checker = (*HTTPChecker)(nil)

// NewHTTPChecker returns the http checker, or with tls the https one.
func NewHTTPChecker(tls bool) *HTTPChecker { return &HTTPChecker{tls: tls} }

var readers = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 4096) }}

// Check sends the request and checks the response.
func (h *HTTPChecker) Check(ctx context.Context, t Target) Result {
	tm := begin(ctx, t)
	ht, err := h.targets.get(t.Spec.Target, parseHTTPTarget)
	if err != nil {
		return tm.fail(t, "bad probe target: "+err.Error())
	}
	c, err := dial(ctx, t)
	if err != nil {
		return tm.failErr(ctx, t, "connect", err)
	}
	defer abort(c)
	stop := bindDeadline(ctx, c)
	defer stop()

	var rw net.Conn = c
	if h.tls {
		cfg := &tls.Config{InsecureSkipVerify: true, ServerName: ht.host}
		if net.ParseIP(ht.host) != nil {
			cfg.ServerName = "" // RFC 6066: no IP addresses in SNI
		}
		tc := tls.Client(c, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			return tm.failErr(ctx, t, "TLS handshake", err)
		}
		rw = tc
	}
	host := ht.host
	if host == "" {
		host = t.Addr.String()
	}
	req := "GET " + ht.path + " HTTP/1.1\r\nHost: " + host +
		"\r\nUser-Agent: poolnsd-probe\r\nAccept: */*\r\nConnection: close\r\n\r\n"
	if _, err := io.WriteString(rw, req); err != nil {
		return tm.failErr(ctx, t, "HTTP", err)
	}
	br := readers.Get().(*bufio.Reader)
	br.Reset(rw)
	defer func() { br.Reset(nil); readers.Put(br) }()
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return tm.failErr(ctx, t, "HTTP", noResponse(err))
	}
	var body []byte
	if len(ht.bodies) > 0 {
		body, err = io.ReadAll(io.LimitReader(resp.Body, MaxBody))
		if err != nil && len(body) < MaxBody {
			return tm.failErr(ctx, t, "HTTP body", noResponse(err))
		}
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

// noResponse names an end of the connection before the answer.
func noResponse(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return errors.New("connection closed before the response")
	}
	return err
}

// bindDeadline makes c's I/O end at ctx's deadline, or at once when ctx is
// cancelled. The returned func releases the binding.
func bindDeadline(ctx context.Context, c net.Conn) (stop func() bool) {
	if d, ok := ctx.Deadline(); ok {
		c.SetDeadline(d)
	}
	return context.AfterFunc(ctx, func() { c.SetDeadline(time.Unix(1, 0)) })
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
