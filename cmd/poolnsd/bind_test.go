package main

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"syscall"
	"testing"
)

// TestBindErrorNamesTheKey: when the DNS or HTTP address is taken, serve
// exits 3 with an error whose hint names the flag, the config key and the
// environment variable that choose another.
func TestBindErrorNamesTheKey(t *testing.T) {
	t.Parallel()
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { taken.Close() })
	for _, tc := range []struct {
		key, flag, msg string
	}{
		{"dns.listen", "--dns.listen", "cannot serve DNS"},
		{"http.listen", "--http.listen", "cannot serve HTTP"},
	} {
		t.Run(tc.key, func(t *testing.T) {
			dir := daemonDir(t, goodZone)
			p := startDaemon(t, dir, tc.flag, taken.Addr().String())
			r, _ := p.waitLog(0, "the bind error", msgIs(tc.msg))
			if !strings.Contains(r.Str("err"), "address already in use") {
				t.Errorf("err %q: not the bind error", r.Str("err"))
			}
			env := "POOLNSD_" + strings.ToUpper(strings.ReplaceAll(tc.key, ".", "_"))
			want := fmt.Sprintf("another program has this address; choose another with %s (%s in poolnsd.yaml, %s)", tc.flag, tc.key, env)
			if r.Str("hint") != want {
				t.Errorf("hint %q, want %q", r.Str("hint"), want)
			}
			if code := p.waitExit(waitLimit); code != exitRuntime {
				t.Errorf("exit %d, want %d", code, exitRuntime)
			}
		})
	}
}

func TestListenHint(t *testing.T) {
	wrap := func(e error) error {
		return fmt.Errorf("dnsfront: listen tcp 127.0.0.1:53: %w", &net.OpError{Op: "listen", Err: e})
	}
	for _, tc := range []struct {
		err  error
		want string
	}{
		{wrap(syscall.EADDRINUSE), "another program has this address; choose another with --dns.listen (dns.listen in poolnsd.yaml, POOLNSD_DNS_LISTEN)"},
		{wrap(syscall.EACCES), "ports below 1024 need root or CAP_NET_BIND_SERVICE; choose another address with --dns.listen (dns.listen in poolnsd.yaml, POOLNSD_DNS_LISTEN)"},
		{wrap(syscall.EADDRNOTAVAIL), "no interface of this machine has this address; choose another with --dns.listen (dns.listen in poolnsd.yaml, POOLNSD_DNS_LISTEN)"},
		{errors.New("dnsfront: no listen address"), ""},
	} {
		if got := listenHint(tc.err, "dns.listen"); got != tc.want {
			t.Errorf("listenHint(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}
