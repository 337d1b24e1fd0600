package probe

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/poolnsd/poolnsd/probe/probespec"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
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
//     without it the Host header is ADDR:PORT and no SNI is sent;
//   - fresh: a new connection for every probe (see below);
//   - load=FIELD: the load from the body's JSON member FIELD (see below).
//
// Examples: "/healthz", "/healthz#200", "/status#2xx,3xx",
// "/ready#body=ok", "/#host=www.example.com", "/healthz#fresh".
//
// Connections are kept open between probes (HTTP keep-alive, one per
// target), as load balancers' health checkers commonly do: a probe is then
// one request and one response, not a TCP (and TLS) handshake as well,
// which at thousands of probes a second is most of the cost. A server that
// dies closes the connection (the next probe finds it closed, tries a new
// one and is refused), a frozen one lets the request time out, and a
// probe that fails drops its connection, so the next one starts afresh. A
// kept connection that turns out closed when a probe uses it (the server's
// idle timeout) is replaced by a new one within the same probe. With the
// term "fresh", or when the server answers "Connection: close", each probe
// opens a new connection and sends "Connection: close": then a server that
// stops accepting connections but still serves old ones is noticed too.
// Connections are closed with a reset, leaving no TIME_WAIT sockets.
//
// Redirects are not followed (3xx is a status like any other). For https
// the certificate is not verified: probes address servers by IP address and
// ask whether a server is alive, not who it is. No proxy is used. The
// checker is net/http's response parser on a plain connection rather than
// an http.Client: no pool of its own, no goroutines per request.
//
// A response header "Pool-Load: 0.35" or "Pool-Load: 35%" sets Result.Load
// (whatever the status); a malformed or out-of-range value is ignored.
// With the term load=FIELD the load is read from the body instead, a JSON
// object whose member FIELD (a dotted path for nested objects: load=stats.cpu)
// is a number 0–1 or a string such as "35%"; the header serves when the
// body has no such member.
type HTTPChecker struct {
	tls     bool
	targets parsedCache[*probespec.HTTP]

	mu        sync.Mutex
	idle      map[string]*pconn // by target key: one kept connection each
	lastSweep time.Time
}

var (
	_ Checker   = (*HTTPChecker)(nil)
	_ Forgetter = (*HTTPChecker)(nil)
)

// pconn is a connection kept between probes.
type pconn struct {
	raw    net.Conn // the TCP connection
	rw     net.Conn // raw, or the TLS connection over it
	ap     netip.AddrPort
	addr   string
	sni    string        // the server name of its TLS handshake
	req    []byte        // the request, made once per connection and target
	reqFor string        // the Spec.Target of req
	cr     countReader   // counts what a response read
	used   time.Time     // when it was last put back
	keep   time.Duration // how long it may stay idle

	// What each exchange reads into, kept with the connection so that a
	// probe allocates none of it.
	resp response
	lim  io.LimitedReader
}

// NewHTTPChecker returns the http checker, or with tls the https one.
func NewHTTPChecker(tls bool) *HTTPChecker {
	return &HTTPChecker{tls: tls, idle: map[string]*pconn{}}
}

var readers = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 4096) }}

// Check sends the request and checks the response.
func (h *HTTPChecker) Check(ctx context.Context, t Target) Result {
	tm := begin(ctx, t)
	ht, err := h.targets.get(t.Spec.Target, probespec.ParseHTTP)
	if err != nil {
		return tm.fail(t, "bad probe target: "+err.Error())
	}
	pc := h.take(t, ht)
	reused := pc != nil
	if pc == nil {
		var r Result
		if pc, r = h.connect(ctx, t, ht, tm); pc == nil {
			return r
		}
	}
	r, keep, stale := h.exchange(ctx, t, ht, pc, tm)
	if reused && stale && ctx.Err() == nil {
		// The kept connection was closed meanwhile: try a new one.
		abort(pc.raw)
		if pc, r = h.connect(ctx, t, ht, tm); pc == nil {
			return r
		}
		r, keep, _ = h.exchange(ctx, t, ht, pc, tm)
	}
	if keep && !ht.Fresh {
		h.put(t, pc) // its deadline is past by its next use, which sets one

	} else {
		abort(pc.raw)
	}
	return r
}

// connect opens a connection to t, with the TLS handshake for https. On
// failure it returns nil and the failing result.
func (h *HTTPChecker) connect(ctx context.Context, t Target, ht *probespec.HTTP, tm timing) (*pconn, Result) {
	c, err := dial(ctx, t)
	if err != nil {
		return nil, tm.failErr(ctx, t, "connect", err)
	}
	pc := &pconn{raw: c, rw: c, ap: t.Addr, addr: t.Addr.String(), sni: ht.Host}
	if h.tls {
		tc, err := handshake(ctx, c, ht.Host)
		if err != nil {
			abort(c)
			return nil, tm.failErr(ctx, t, "TLS handshake", err)
		}
		pc.rw = tc
	}
	return pc, Result{}
}

// exchange sends the request on pc and reads the response. keep says
// whether pc may serve the next probe; stale whether the connection was
// found closed before any of the response came (worth a new connection).
func (h *HTTPChecker) exchange(ctx context.Context, t Target, ht *probespec.HTTP, pc *pconn, tm timing) (r Result, keep, stale bool) {
	setDeadline(ctx, pc.raw)
	if pc.req == nil || pc.reqFor != t.Spec.Target {
		host := ht.Host
		if host == "" {
			host = pc.addr
		}
		conn := "keep-alive"
		if ht.Fresh {
			conn = "close"
		}
		pc.req = []byte("GET " + ht.Path + " HTTP/1.1\r\nHost: " + host +
			"\r\nUser-Agent: poolnsd-probe\r\nAccept: */*\r\nConnection: " + conn + "\r\n\r\n")
		pc.reqFor = t.Spec.Target
	}
	if _, err := pc.rw.Write(pc.req); err != nil {
		return tm.failErr(ctx, t, "HTTP", err), false, isClosed(err)
	}
	pc.cr = countReader{r: pc.rw}
	br := readers.Get().(*bufio.Reader)
	br.Reset(&pc.cr)
	defer func() {
		br.Reset(nil)
		readers.Put(br)
		pc.resp.body, pc.resp.lb, pc.lim = nil, lengthBody{}, io.LimitedReader{} // no hold on br once it is back in the pool
	}()
	resp := &pc.resp
	if err := readResponse(br, resp); err != nil {
		closed := pc.cr.n == 0 && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || isClosed(err))
		return tm.failErr(ctx, t, "HTTP", noResponse(err)), false, closed
	}
	// Read the body: up to MaxBody to match it, or to its end (if it is
	// no longer than MaxBody) to use the connection again.
	var body []byte
	var n int64
	var berr error
	if len(ht.Bodies) > 0 || ht.LoadField != nil {
		pc.lim = io.LimitedReader{R: resp.body, N: MaxBody + 1}
		body, berr = io.ReadAll(&pc.lim)
		n = int64(len(body))
		body = body[:min(len(body), MaxBody)]
		if berr != nil && n <= MaxBody {
			return tm.failErr(ctx, t, "HTTP body", noResponse(berr)), false, false
		}
	} else if resp.body != http.NoBody {
		pc.lim = io.LimitedReader{R: resp.body, N: MaxBody + 1}
		n, berr = io.Copy(io.Discard, &pc.lim)
	}
	keep = berr == nil && n <= MaxBody && resp.keepAlive && br.Buffered() == 0
	r = tm.ok(t)
	if ht.LoadField != nil && n <= MaxBody {
		r.Load, r.HasLoad = jsonLoad(body, ht.LoadField)
	}
	if resp.load != nil && !r.HasLoad {
		r.Load, r.HasLoad = ParseLoad(string(resp.load))
	}
	if !ht.StatusOK(resp.status) {
		r.OK, r.Err = false, fmt.Sprintf("HTTP status %d, want %s", resp.status, ht.Want())
		return r, false, false
	}
	for _, b := range ht.Bodies {
		if !bytes.Contains(body, []byte(b)) {
			r.OK, r.Err = false, fmt.Sprintf("body lacks %q", b)
			return r, false, false
		}
	}
	return r, keep, false
}

// response is what a probe needs of an HTTP response.
type response struct {
	status    int
	keepAlive bool   // HTTP/1.1 without Connection: close, and a delimited body
	load      []byte // the Pool-Load header's value; nil if none
	body      io.Reader

	loadBuf []byte     // load's storage, kept from one response to the next
	lb      lengthBody // body's, for a body of known length
}

// readResponse reads an HTTP/1.x response's status line and header from br
// (skipping 1xx interim responses) and returns it with a reader of its
// body. It reads only what a probe needs — status, Content-Length,
// Transfer-Encoding, Connection and Pool-Load — without allocating for
// the rest, which matters at thousands of probes a second; the body reader
// decodes chunked bodies (net/http/httputil) and stops at Content-Length.
// It fills r, which may be the previous response's.
func readResponse(br *bufio.Reader, r *response) error {
	for {
		err := readHead(br, r)
		if err != nil || r.status >= 200 || r.status == 101 {
			return err
		}
	}
}

func readHead(br *bufio.Reader, r *response) error {
	*r = response{loadBuf: r.loadBuf[:0]}
	line, err := readLine(br)
	if err != nil {
		if errors.Is(err, io.EOF) && len(line) > 0 {
			err = io.ErrUnexpectedEOF
		}
		return err
	}
	// HTTP/1.1 200 OK
	proto, rest, _ := bytes.Cut(line, []byte(" "))
	code, _, _ := bytes.Cut(rest, []byte(" "))
	minor := -1
	switch string(proto) {
	case "HTTP/1.1":
		minor = 1
	case "HTTP/1.0":
		minor = 0
	}
	status, cerr := strconv.Atoi(string(code))
	if minor < 0 || cerr != nil || len(code) != 3 || status < 100 {
		return fmt.Errorf("malformed HTTP response %q", truncate(line, 40))
	}
	r.status, r.keepAlive = status, minor == 1
	length := int64(-1)
	chunked := false
	for {
		line, err := readLine(br)
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
		if len(line) == 0 {
			break
		}
		if line[0] == ' ' || line[0] == '\t' {
			continue // an obsolete folded line: nothing a probe reads
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return fmt.Errorf("malformed HTTP header %q", truncate(line, 40))
		}
		value = bytes.TrimSpace(value)
		switch {
		case asciiEqualFold(name, "content-length"):
			n, err := strconv.ParseInt(string(value), 10, 64)
			if err != nil || n < 0 {
				return fmt.Errorf("bad Content-Length %q", truncate(value, 40))
			}
			length = n
		case asciiEqualFold(name, "transfer-encoding"):
			chunked = asciiEqualFold(value, "chunked")
			if !chunked {
				r.keepAlive = false // an encoding we do not delimit
			}
		case asciiEqualFold(name, "connection"):
			for tok := range bytes.SplitSeq(value, []byte(",")) {
				tok = bytes.TrimSpace(tok)
				switch {
				case asciiEqualFold(tok, "close"):
					r.keepAlive = false
				case asciiEqualFold(tok, "keep-alive") && minor == 0:
					r.keepAlive = true
				}
			}
		case asciiEqualFold(name, LoadHeader):
			r.loadBuf = append(r.loadBuf[:0], value...)
			r.load = r.loadBuf
		}
	}
	switch {
	case status == 204 || status == 304 || status < 200:
		r.body = http.NoBody
	case chunked:
		r.body = &chunkedBody{br: br, r: httputil.NewChunkedReader(br)}
	case length == 0:
		r.body = http.NoBody
	case length > 0:
		r.lb = lengthBody{r: br, left: length}
		r.body = &r.lb
	default:
		r.body = br // to the end of the connection
		r.keepAlive = false
	}
	return nil
}

// lengthBody reads a body of a known length; an end before it is
// io.ErrUnexpectedEOF.
type lengthBody struct {
	r    io.Reader
	left int64
}

func (b *lengthBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.r.Read(p)
	b.left -= int64(n)
	if errors.Is(err, io.EOF) && b.left > 0 {
		err = io.ErrUnexpectedEOF
	}
	if b.left == 0 && err == nil {
		err = io.EOF
	}
	return n, err
}

// chunkedBody reads a chunked body and, at its end, the trailer section,
// so that the connection is ready for the next response.
type chunkedBody struct {
	br   *bufio.Reader
	r    io.Reader
	done bool
}

func (b *chunkedBody) Read(p []byte) (int, error) {
	if b.done {
		return 0, io.EOF
	}
	n, err := b.r.Read(p)
	if errors.Is(err, io.EOF) {
		for { // the trailer: header lines up to an empty one
			line, lerr := readLine(b.br)
			if lerr != nil {
				return n, io.ErrUnexpectedEOF
			}
			if len(line) == 0 {
				break
			}
		}
		b.done = true
	}
	return n, err
}

// readLine reads a line without its CRLF (or LF). The slice is valid
// until the next read from br.
func readLine(br *bufio.Reader) ([]byte, error) {
	line, err := br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		return nil, fmt.Errorf("HTTP header line longer than %d bytes", br.Size())
	}
	if err != nil {
		return line, err
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, nil
}

func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		c, d := b[i], s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if 'A' <= d && d <= 'Z' {
			d += 'a' - 'A'
		}
		if c != d {
			return false
		}
	}
	return true
}

func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}

// countReader counts the bytes read through it.
type countReader struct {
	r io.Reader
	n int
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// isClosed reports whether err says the peer had closed the connection.
func isClosed(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) || errors.Is(err, net.ErrClosed)
}

// connSlot holds a target's kept connection inside its Scheduler entry:
// no map and no lock of the checker's on a probe's way.
type connSlot struct {
	pc   atomic.Pointer[pconn]
	dead atomic.Bool // the target is gone: nothing is kept any more
}

func (s *connSlot) take() *pconn { return s.pc.Swap(nil) }

func (s *connSlot) put(pc *pconn) {
	if old := s.pc.Swap(pc); old != nil {
		abort(old.raw)
	}
	if s.dead.Load() {
		s.close()
	}
}

// close closes the kept connection and keeps none from now on.
func (s *connSlot) close() {
	s.dead.Store(true)
	if pc := s.pc.Swap(nil); pc != nil {
		abort(pc.raw)
	}
}

// take returns t's kept connection, if it has one to t's address (with
// the server name that ht asks for).
func (h *HTTPChecker) take(t Target, ht *probespec.HTTP) *pconn {
	var pc *pconn
	if t.slot != nil {
		pc = t.slot.take()
	} else {
		h.mu.Lock()
		pc = h.idle[t.Key]
		delete(h.idle, t.Key)
		h.mu.Unlock()
	}
	if pc == nil {
		return nil
	}
	if pc.ap != t.Addr || h.tls && pc.sni != ht.Host {
		abort(pc.raw)
		return nil
	}
	return pc
}

// put keeps pc for t's next probe (one per target: a second is closed).
// Without a Scheduler's slot it keeps it in the checker's own table, and
// now and then closes the connections there that have been idle too long.
func (h *HTTPChecker) put(t Target, pc *pconn) {
	if t.slot != nil {
		t.slot.put(pc)
		return
	}
	now := time.Now()
	pc.used, pc.keep = now, 2*max(t.Spec.Interval, time.Second)
	h.mu.Lock()
	defer h.mu.Unlock()
	if old := h.idle[t.Key]; old != nil {
		abort(old.raw)
	}
	h.idle[t.Key] = pc
	if now.Sub(h.lastSweep) < time.Second {
		return
	}
	h.lastSweep = now
	for k, c := range h.idle {
		if now.Sub(c.used) > c.keep {
			abort(c.raw)
			delete(h.idle, k)
		}
	}
}

// Forget closes the kept connection of the target with key in the
// checker's own table (a Scheduler closes those in its slots itself).
func (h *HTTPChecker) Forget(key string) {
	h.mu.Lock()
	pc := h.idle[key]
	delete(h.idle, key)
	h.mu.Unlock()
	if pc != nil {
		abort(pc.raw)
	}
}

// noResponse names an end of the connection before the answer.
func noResponse(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return errors.New("connection closed before the response")
	}
	return err
}

// setDeadline makes c's I/O end at ctx's deadline. The checks do not
// watch ctx for cancellation beyond that (a context.AfterFunc per probe
// costs more than the rest of a probe's bookkeeping): a probe that is in
// flight when its Scheduler stops ends at its timeout.
func setDeadline(ctx context.Context, c net.Conn) {
	if d, ok := ctx.Deadline(); ok {
		c.SetDeadline(d)
	}
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

// jsonLoad reads the load from body, a JSON object, at the member path
// field: a number 0–1, or a string that ParseLoad takes ("35%").
func jsonLoad(body []byte, field []string) (float64, bool) {
	var v any
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	if d.Decode(&v) != nil {
		return 0, false
	}
	for _, f := range field {
		o, ok := v.(map[string]any)
		if !ok {
			return 0, false
		}
		if v, ok = o[f]; !ok {
			return 0, false
		}
	}
	switch x := v.(type) {
	case json.Number:
		return ParseLoad(x.String())
	case string:
		return ParseLoad(x)
	}
	return 0, false
}
