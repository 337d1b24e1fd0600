package config

import (
	"net/netip"
	"strings"
	"testing"
	"time"
)

// TestProtectKeys: the protections' keys from a file (nested sections),
// the environment and flags, and what their accessors make of them.
func TestProtectKeys(t *testing.T) {
	file := `dns:
  cookie_secret: "e5e973e5a6b2a43f48e7dc849e37bfcf"
  cookie_secret_previous: "445536bcd2513298075a5d379663c962"
  allow_query: ["192.0.2.0/24", "2001:db8::/32", "198.51.100.7"]
  nsid: auto
  rrl:
    responses_per_second: 20
    window: 5s
    exempt: ["203.0.113.0/24"]
  tls:
    listen: ["127.0.0.1:8853"]
    cert: cert.pem
    key: key.pem
log:
  repeat_limit: 5
`
	c, _, err := load(t, file, map[string]string{"POOLNSD_DNS_VERSION": "poolnsd test"}, "--dns.rrl.slip=1", "--dns.cookies=false")
	if err != nil {
		t.Fatal(err)
	}
	if c.DNS.Cookies || c.DNS.NSID != "auto" || c.DNS.Version != "poolnsd test" || c.Log.RepeatLimit != 5 || c.LogRepeatInterval() != 10*time.Second {
		t.Errorf("config %+v", c)
	}
	r, on := c.RRLConfig()
	if !on || r.ResponsesPerSecond != 20 || r.Window != 5*time.Second || r.Slip != 1 || !r.SlipSet || r.IPv4Prefix != 24 || r.IPv6Prefix != 56 || r.TableSize != 65536 {
		t.Errorf("RRLConfig %+v %v", r, on)
	}
	if !r.Exempt.Contains(netip.MustParseAddr("203.0.113.9")) || r.Exempt.Contains(netip.MustParseAddr("192.0.2.1")) {
		t.Error("RRLConfig's exempt set is not dns.rrl.exempt")
	}
	acl := c.AllowQuery()
	for a, want := range map[string]bool{"192.0.2.200": true, "2001:db8::5": true, "198.51.100.7": true, "198.51.100.8": false, "::1": false} {
		if acl.Contains(netip.MustParseAddr(a)) != want {
			t.Errorf("AllowQuery().Contains(%s) != %v", a, want)
		}
	}
	if def := Defaults(); !def.AllowQuery().All() {
		t.Error("the default dns.allow_query is not every address")
	}
	if _, on := Defaults().RRLConfig(); on {
		t.Error("RRL is on by default")
	}
}

// TestProtectErrors: each bad value is one error line naming its key.
func TestProtectErrors(t *testing.T) {
	for _, tc := range []struct {
		yaml string
		want string
	}{
		{"dns:\n  cookie_secret: abc\n", `dns.cookie_secret: secret has 3 hex digits, want 32 (16 bytes)`},
		// Unquoted digits are a number to YAML: the message says to quote.
		{"dns:\n  cookie_secret: 12345678901234567890123456789012\n", `dns.cookie_secret: secret has 22 hex digits, want 32 (16 bytes); quote it in YAML`},
		{"dns:\n  cookie_secret: \"00000000000000000000000000000000\"\n", `dns.cookie_secret: secret is all zeros`},
		{"dns:\n  cookie_secret_previous: xyzxyzxyzxyzxyzxyzxyzxyzxyzxyzxy\n", `dns.cookie_secret_previous: secret is not hexadecimal`},
		{"dns:\n  cookie_secret: e5e973e5a6b2a43f48e7dc849e37bfcf\n  cookie_secret_previous: E5E973E5A6B2A43F48E7DC849E37BFCF\n",
			`dns.cookie_secret_previous: the same as dns.cookie_secret`},
		{"dns:\n  allow_query: []\n", `dns.allow_query: no prefix`},
		{"dns:\n  allow_query: [\"192.0.2.1/24\"]\n", `dns.allow_query: "192.0.2.1/24" has bits set after its length; did you mean 192.0.2.0/24?`},
		{"dns:\n  nsid: \"0xabc\"\n", `dns.nsid: "0xabc" is not 0x and an even number of hex digits`},
		{"dns:\n  version: \"" + strings.Repeat("v", 129) + "\"\n", `dns.version: 129 bytes, want at most 128`},
		{"dns:\n  rrl:\n    responses_per_second: -1\n", `dns.rrl.responses_per_second: -1 is outside 0..1000000`},
		{"dns:\n  rrl:\n    window: 500ms\n", `dns.rrl.window: 500ms is outside 1s..1h0m0s`},
		{"dns:\n  rrl:\n    window: soon\n", `dns.rrl.window: "soon" is not a duration`},
		{"dns:\n  rrl:\n    slip: 11\n", `dns.rrl.slip: 11 is outside 0..10`},
		{"dns:\n  rrl:\n    ipv4_prefix: 33\n", `dns.rrl.ipv4_prefix: 33 is outside 8..32`},
		{"dns:\n  rrl:\n    ipv6_prefix: 8\n", `dns.rrl.ipv6_prefix: 8 is outside 16..128`},
		{"dns:\n  rrl:\n    exempt: [\"nowhere\"]\n", `dns.rrl.exempt: "nowhere" is not an IP prefix or address`},
		{"dns:\n  rrl:\n    table_size: 10\n", `dns.rrl.table_size: 10 is outside 1024..67108864`},
		{"dns:\n  tls:\n    listen: [\"127.0.0.1\"]\n    cert: c\n    key: k\n", `dns.tls.listen: "127.0.0.1" is not host:port`},
		{"dns:\n  tls:\n    listen: [\"127.0.0.1:853\"]\n    key: k\n", `dns.tls.cert: empty, but dns.tls.listen is set`},
		{"dns:\n  tls:\n    listen: [\"127.0.0.1:853\"]\n    cert: c\n", `dns.tls.key: empty, but dns.tls.listen is set`},
		{"log:\n  repeat_limit: -1\n", `log.repeat_limit: -1 is outside 0..1000000`},
		{"log:\n  repeat_interval: 0s\n", `log.repeat_interval: 0s is outside 1s..1h0m0s`},
	} {
		got := loadErrors(t, tc.yaml)
		if len(got) != 1 || !strings.HasPrefix(got[0], tc.want) {
			t.Errorf("%q:\n got %q\nwant one line starting %q", tc.yaml, got, tc.want)
		}
	}
}
