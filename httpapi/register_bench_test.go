package httpapi_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/poolnsd/poolnsd/regcommit"
)

// BenchmarkPutRefresh: one HTTP registration refresh (PUT of an element
// that exists, with a new load, as bench/bigpool's clients send), through
// the handler, a real registrar and store: what the API's own path
// allocates and costs besides the commit (the fsync dominates the time).
//
//	go test -run XXX -bench PutRefresh -benchmem -memprofile /tmp/put.mem ./httpapi
func BenchmarkPutRefresh(b *testing.B) {
	f := newRegFixture(b, regcommit.Config{Rate: 1e9, Burst: 1 << 30})
	body := func(i int) string {
		return fmt.Sprintf(`{"addresses":["192.0.2.99"],"port":9000,"weight":3,"load":0.%02d,"lease":60}`, i%100)
	}
	put := func(i int) {
		r := httptest.NewRequest("PUT", "/v1/pools/web.pool.test/elements/h1", strings.NewReader(body(i)))
		r.Header.Set("Authorization", auth)
		w := httptest.NewRecorder()
		f.h.ServeHTTP(w, r)
		if w.Code != http.StatusOK && w.Code != http.StatusCreated {
			b.Fatal(w.Code, w.Body.String())
		}
	}
	put(0)
	i := 1
	for b.Loop() {
		put(i)
		i++
	}
}

// BenchmarkPutRefreshSocket is BenchmarkPutRefresh through net/http's
// server over a loopback TCP connection kept alive, as a registration
// client's: what httptest's request reader and recorder hide (net/http's
// own request, its reading and writing) and what they add (a 4 KB reader
// per request) are as in poolnsd serve. The client writes its requests
// and reads the replies without allocating, so that -benchmem counts the
// server's side (the handler, the registrar, the store) alone.
//
//	go test -run XXX -bench PutRefreshSocket -benchmem ./httpapi
func BenchmarkPutRefreshSocket(b *testing.B) {
	addr := serveSocket(b)
	c, err := dialRaw(addr)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	var bodies [100][]byte
	for i := range bodies {
		bodies[i] = fmt.Appendf(nil, `{"addresses":["192.0.2.99"],"port":9000,"weight":3,"load":0.%02d,"lease":60}`, i)
	}
	const path = "/v1/pools/web.pool.test/elements/h1"
	put := func(i int) {
		code, err := c.put(path, bodies[i%len(bodies)])
		if err != nil {
			b.Fatal(err)
		}
		if code != http.StatusOK && code != http.StatusCreated {
			b.Fatal("status", code)
		}
	}
	put(0)
	i := 1
	c0 := processCPU()
	for b.Loop() {
		put(i)
		i++
	}
	reportCPU(b, c0)
}

// BenchmarkPutRefreshSockets is BenchmarkPutRefreshSocket with 8 clients,
// each its own element over its own kept-alive connection, sending at
// once: requests that queue while a commit runs share the next batch, as
// bench/bigpool's 32 clients' do (batches of 1–4 at 1 000 PUTs/s). An
// op is one PUT; cpu-µs/op as there.
//
//	go test -run XXX -bench PutRefreshSockets -benchmem ./httpapi
func BenchmarkPutRefreshSockets(b *testing.B) {
	addr := serveSocket(b)
	const clients = 8
	var cs [clients]*rawClient
	for i := range cs {
		var err error
		if cs[i], err = dialRaw(addr); err != nil {
			b.Fatal(err)
		}
		defer cs[i].Close()
	}
	var bodies [100][]byte
	for i := range bodies {
		bodies[i] = fmt.Appendf(nil, `{"addresses":["192.0.2.99"],"port":9000,"weight":3,"load":0.%02d,"lease":60}`, i)
	}
	put := func(c, i int) error {
		code, err := cs[c].put("/v1/pools/web.pool.test/elements/s"+strconv.Itoa(c), bodies[i%len(bodies)])
		if err == nil && code != http.StatusOK && code != http.StatusCreated {
			err = fmt.Errorf("status %d", code)
		}
		return err
	}
	for c := range clients {
		if err := put(c, 0); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	c0 := processCPU()
	errs := make(chan error, clients)
	for c := range clients {
		go func() {
			for i := c; i < b.N; i += clients {
				if err := put(c, i); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range clients {
		if err := <-errs; err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	reportCPU(b, c0)
}

// processCPU is the CPU time (user and system) the process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU reports the process's CPU per operation since c0 (the
// server's side and the benchmark's raw client, whose share is small: a
// write and a read of one connection; the store's fsync is a kernel
// worker's, not counted), as cpu-µs/op: what a request costs the CPU,
// which ns/op, the fsync's wait, does not show.
func reportCPU(b *testing.B, c0 time.Duration) {
	if c0 > 0 && b.N > 0 {
		b.ReportMetric(float64(processCPU()-c0)/float64(time.Microsecond)/float64(b.N), "cpu-µs/op")
	}
}

// rawClient sends PUTs with the bearer token over one kept-alive
// connection and reads the replies' status and body length, without
// allocating once its buffers have grown.
type rawClient struct {
	net.Conn
	br  *bufio.Reader
	req []byte
}

func dialRaw(addr string) (*rawClient, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	return &rawClient{Conn: c, br: bufio.NewReaderSize(c, 16<<10)}, nil
}

// put sends PUT path with body and returns the reply's status code once
// its body is read.
func (c *rawClient) put(path string, body []byte) (int, error) {
	c.req = append(c.req[:0], "PUT "...)
	c.req = append(c.req, path...)
	c.req = append(c.req, " HTTP/1.1\r\nHost: bench\r\nAuthorization: "+auth+"\r\nContent-Type: application/json\r\nContent-Length: "...)
	c.req = strconv.AppendInt(c.req, int64(len(body)), 10)
	c.req = append(c.req, "\r\n\r\n"...)
	c.req = append(c.req, body...)
	if _, err := c.Write(c.req); err != nil {
		return 0, err
	}
	line, err := c.br.ReadSlice('\n')
	if err != nil {
		return 0, err
	}
	// HTTP/1.1 200 OK
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.1 ")) {
		return 0, fmt.Errorf("bad status line %q", line)
	}
	code, err := strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, fmt.Errorf("bad status line %q", line)
	}
	n := -1
	for {
		h, err := c.br.ReadSlice('\n')
		if err != nil {
			return 0, err
		}
		if len(h) <= 2 { // the empty line
			break
		}
		if v, ok := bytes.CutPrefix(h, []byte("Content-Length: ")); ok {
			n = 0
			for _, d := range bytes.TrimSpace(v) {
				n = n*10 + int(d-'0')
			}
		}
	}
	if n < 0 {
		return 0, errors.New("reply without Content-Length")
	}
	if _, err := c.br.Discard(n); err != nil {
		return 0, err
	}
	return code, nil
}

// serveSocket serves a registration fixture through net/http's server on
// a loopback TCP port, as poolnsd serve does, until b ends; it returns the
// address.
func serveSocket(b *testing.B) string {
	f := newRegFixture(b, regcommit.Config{Rate: 1e9, Burst: 1 << 30})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &http.Server{Handler: f.h, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(l)
	b.Cleanup(func() { srv.Close() })
	return l.Addr().String()
}
