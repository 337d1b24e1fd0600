package main

import (
	"errors"
	"fmt"
	"net"
	"syscall"
	"testing"
)

func TestListenHint(t *testing.T) {
	wrap := func(e error) error {
		return fmt.Errorf("dnsserve: listen tcp 127.0.0.1:53: %w", &net.OpError{Op: "listen", Err: e})
	}
	for _, tc := range []struct {
		err  error
		want string
	}{
		{wrap(syscall.EADDRINUSE), "another program has this address; choose another with --dns.listen (dns.listen in poolnsd.yaml, POOLNSD_DNS_LISTEN)"},
		{wrap(syscall.EACCES), "ports below 1024 need root or CAP_NET_BIND_SERVICE; choose another address with --dns.listen (dns.listen in poolnsd.yaml, POOLNSD_DNS_LISTEN)"},
		{wrap(syscall.EADDRNOTAVAIL), "no interface of this machine has this address; choose another with --dns.listen (dns.listen in poolnsd.yaml, POOLNSD_DNS_LISTEN)"},
		{errors.New("dnsserve: no listen address"), ""},
	} {
		if got := listenHint(tc.err, "dns.listen"); got != tc.want {
			t.Errorf("listenHint(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}
