package zones

import (
	"strconv"
	"strings"
	"testing"
)

// TestAnswerKeys: https= and naptr= as the spec holds them.
func TestAnswerKeys(t *testing.T) {
	for _, tt := range []struct {
		args         string
		https, naptr string
	}{
		{"https=h2", "h2", ""},
		{"https=h2,h3,http/1.1", "h2,h3,http/1.1", ""},
		{"naptr=x-poolnsd:http", "", "x-poolnsd:http"},
		{"naptr=RELAY:iris.beep,x-foo", "", "RELAY:iris.beep,x-foo"},
		{"https=h3 naptr=EM:iris.lwz service=_http._tcp uri=http://{name}:{port}/", "h3", "EM:iris.lwz"},
	} {
		t.Run(tt.args, func(t *testing.T) {
			d := mustParse(t, mapFS("z.zone", head+"$POOL web "+tt.args+"\n"))
			s := pool(t, d, "web").Spec
			if s.HTTPS != tt.https || s.NAPTR != tt.naptr {
				t.Errorf("https %q naptr %q, want %q %q", s.HTTPS, s.NAPTR, tt.https, tt.naptr)
			}
		})
	}
}

// TestAnswerKeyErrors: each mistake in https= and naptr= is named with
// its file:line:col and what was expected.
func TestAnswerKeyErrors(t *testing.T) {
	long := "http://{name}/" + strings.Repeat("a", 170)
	for _, tt := range []struct{ args, want string }{
		{"https=", `z.zone:6:17: empty https; want ALPN protocol IDs separated by commas, such as https=h2,h3`},
		{"https=h2,,h3", `z.zone:6:20: empty ALPN protocol ID in https "h2,,h3"; want IDs such as h2,h3 separated by single commas`},
		{"https=h2,h2", `z.zone:6:20: ALPN protocol ID "h2" given twice in https; want each once`},
		{`https=h2,a\"b`, `z.zone:6:21: bad character '"' in ALPN protocol ID "a\"b"; want printable characters without quotes or backslashes, such as h2`},
		{"https=" + manyIDs(17), `z.zone:6:71: more than 16 ALPN protocol IDs in https; want at most 16`},
		{"https=" + strings.Repeat("a", 256), `z.zone:6:17: ALPN protocol ID of 256 bytes in https; want at most 255`},
		{"naptr=", `z.zone:6:17: empty naptr; want services fields separated by commas, such as naptr=x-poolnsd:http`},
		{"naptr=x-foo:http,1bad", `z.zone:6:28: bad NAPTR services field "1bad"; want an application service tag and its protocol tags such as x-poolnsd:http (letters, digits, +, - and ., each tag starting with a letter, at most 32 long)`},
		{"naptr=x-foo::http", `z.zone:6:17: bad NAPTR services field "x-foo::http"; want an application service tag and its protocol tags such as x-poolnsd:http (letters, digits, +, - and ., each tag starting with a letter, at most 32 long)`},
		{"naptr=x-foo,X-FOO", `z.zone:6:23: NAPTR services field "X-FOO" given twice; want each once`},
		{"naptr=x-foo service=_http._tcp uri=" + long, `z.zone:6:46: uri too long for the U-NAPTR records of naptr (up to 263 bytes of regular expression with {name}, {addr} and {port} filled in); want a template of at most 250 bytes once filled in`},
	} {
		t.Run(tt.args, func(t *testing.T) {
			_, err := Parse(mapFS("z.zone", head+"$POOL web "+tt.args+"\n"), "z.zone")
			if err == nil || err.Error() != tt.want {
				t.Errorf("error\n got %v\nwant %s", err, tt.want)
			}
		})
	}
	// A template that fits is taken.
	mustParse(t, mapFS("z.zone", head+"$POOL web naptr=x-foo service=_http._tcp uri=http://{name}/"+strings.Repeat("a", 100)+"\n"))
}

// manyIDs is n distinct ALPN IDs: a0,a1,…
func manyIDs(n int) string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = "a" + strconv.Itoa(i)
	}
	return strings.Join(ids, ",")
}
