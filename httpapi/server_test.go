package httpapi_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/poolnsd/poolnsd/httpapi"
)

// TestServer serves the API on a real loopback listener.
func TestServer(t *testing.T) {
	f := newFixture(t, testToken)
	s, err := httpapi.Start("127.0.0.1:0", f.h, discard())
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + s.Addr().String()
	client := &http.Client{Timeout: 10 * time.Second}

	get := func(path string) reply {
		t.Helper()
		resp, err := client.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return decodeReply(t, "GET "+path, resp.StatusCode, resp.Header, string(b))
	}
	get("/healthz").want(t, http.StatusOK, "")
	if rp := get("/v1/pools/web.pool.test"); rp.json["name"] != "web.pool.test." {
		t.Fatalf("GET pool over TCP: %s", rp.body)
	}

	// A report: the client address is the loopback peer.
	req, _ := http.NewRequest("POST", base+"/v1/pools/web.pool.test./reports", strings.NewReader(`{"element":"`+id(web1)+`"}`))
	req.Header.Set("Authorization", auth)
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST report over TCP: %d, want 202", resp.StatusCode)
	}
	if got := f.b.from[0].String(); got != "127.0.0.1" {
		t.Errorf("report's client %s, want 127.0.0.1", got)
	}

	// A second server on the same port fails to start, naming the address.
	if s2, err := httpapi.Start(s.Addr().String(), f.h, discard()); err == nil {
		s2.Shutdown(context.Background())
		t.Fatalf("second Start on %s succeeded", s.Addr())
	} else if !strings.Contains(err.Error(), "httpapi: listen "+s.Addr().String()) {
		t.Errorf("bind error %q does not name the address", err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	select {
	case err := <-s.Err():
		t.Fatalf("serving loop error after a clean shutdown: %v", err)
	default:
	}
	if _, err := net.DialTimeout("tcp", s.Addr().String(), time.Second); err == nil {
		t.Error("the listener still accepts after Shutdown")
	}
}
