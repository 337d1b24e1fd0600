package handlespace_test

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/poolnsd/poolnsd/handlespace"
)

func TestCheckLabel(t *testing.T) {
	for _, c := range []struct{ label, err string }{
		{"web", ""}, {"a", ""}, {"web-1", ""}, {"_http", ""}, {"x_", ""}, {"0a1b2c3d", ""},
		{strings.Repeat("a", 63), ""},
		{"", "empty label"},
		{strings.Repeat("a", 64), "is 64 octets long; want at most 63"},
		{"-", `label "-" begins or ends with '-'`},
		{"-web", "begins or ends with '-'"},
		{"web-", "begins or ends with '-'"},
		{"*", `label "*" has "*"; want letters, digits, '-' or '_'`},
		{"we b", `label "we b" has a space`},
		{"we\x00b", `has a NUL byte`},
		{"we\tb", `the control character 0x09`},
		{"a.b", `has "."`},
		{"Web", "upper-case"},
		{"wéb", "not ASCII"},
	} {
		err := handlespace.CheckLabel(c.label)
		if (err == nil) != (c.err == "") || err != nil && !strings.Contains(err.Error(), c.err) {
			t.Errorf("CheckLabel(%q) = %v, want %q", c.label, err, c.err)
		}
	}
}

func TestCheckPoolName(t *testing.T) {
	long := strings.Repeat(strings.Repeat("z", 63)+".", 3) // 192 characters
	for _, c := range []struct{ name, err string }{
		{"web.pool.example.", ""},
		{"w.x.", ""},
		{"web.pool.example", "not a fully qualified name"},
		{".", "not a fully qualified name"},
		{"web.", "has no zone"},
		{"we b.pool.example.", `pool handle: label "we b" has a space`},
		{"*.pool.example.", `pool handle: label "*" has "*"`},
		{"-.pool.example.", `pool handle: label "-" begins or ends with '-'`},
		{"\x00.pool.example.", `has a NUL byte`},
		{strings.Repeat("a", 64) + ".pool.example.", "64 octets long"},
		{"web..example.", "empty label"},
		{"web.po ol.example.", "has a space"},
		{"web." + strings.Repeat("b", 64) + ".example.", "a label of 64 octets"},
		{strings.Repeat("a", 61) + "." + long, ""}, // 254 characters
		{strings.Repeat("a", 62) + "." + long, "255 characters long; want at most 254"},
	} {
		err := handlespace.CheckPoolName(c.name)
		if (err == nil) != (c.err == "") || err != nil && !strings.Contains(err.Error(), c.err) {
			t.Errorf("CheckPoolName(%.30q… %d) = %v, want %q", c.name, len(c.name), err, c.err)
		}
	}
	// Checked on every registration: no garbage for a good name.
	if n := testing.AllocsPerRun(100, func() { _ = handlespace.CheckPoolName("web.pool.example.") }); n != 0 {
		t.Errorf("CheckPoolName allocates %v times for a good name", n)
	}
	pool := strings.Repeat("a", 61) + "." + strings.Repeat(strings.Repeat("z", 63)+".", 2) + strings.Repeat("z", 61) + "."
	if err := handlespace.CheckElementName(pool, "x"); err != nil {
		t.Errorf("CheckElementName of %d + 2: %v", len(pool), err)
	}
	if err := handlespace.CheckElementName(pool, "xy"); err == nil || !strings.Contains(err.Error(), "want at most 254") {
		t.Errorf("CheckElementName of %d + 3: %v", len(pool), err)
	}
}

func TestCheckAddr(t *testing.T) {
	for _, c := range []struct {
		addr     string
		loopback bool
		err      string
	}{
		{"192.0.2.1", false, ""}, {"2001:db8::1", false, ""}, {"10.0.0.1", false, ""}, {"169.254.1.1", false, ""},
		{"::ffff:192.0.2.1", false, ""}, {"fd00::1", false, ""},
		{"127.0.0.1", true, ""}, {"::1", true, ""}, {"127.1.2.3", true, ""},
		{"127.0.0.1", false, "127.0.0.1: a loopback address"},
		{"::1", false, "::1: a loopback address"},
		{"::ffff:127.0.0.1", false, "127.0.0.1: a loopback address"},
		{"0.0.0.0", true, "the unspecified address"},
		{"::", true, "the unspecified address"},
		{"0.1.2.3", true, "0.0.0.0/8"},
		{"224.0.0.1", true, "multicast"},
		{"239.255.255.250", true, "multicast"},
		{"ff02::1", true, "multicast"},
		{"255.255.255.255", true, "broadcast"},
		{"fe80::1", true, "link-local"},
		{"fe80::1%eth0", true, "has a zone"},
	} {
		err := handlespace.CheckAddr(netip.MustParseAddr(c.addr), c.loopback)
		if (err == nil) != (c.err == "") || err != nil && !strings.Contains(err.Error(), c.err) {
			t.Errorf("CheckAddr(%s, %v) = %v, want %q", c.addr, c.loopback, err, c.err)
		}
	}
	if err := handlespace.CheckAddr(netip.MustParseAddr("127.0.0.1"), false); !errors.Is(err, handlespace.ErrLoopback) {
		t.Errorf("loopback: %v is not ErrLoopback", err)
	}
	if err := handlespace.CheckAddr(netip.Addr{}, true); err == nil {
		t.Error("the zero Addr passed")
	}
}
