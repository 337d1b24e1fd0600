package probespec

import "testing"

func TestValidate(t *testing.T) {
	tests := []struct {
		kind, target string
		err          string // "" ok
	}{
		{"tcp", "", ""},
		{"none", "", ""},
		{"", "", ""},
		{"tcp", "x", `tcp takes no target`},
		{"http", "", ""},
		{"http", "/healthz", ""},
		{"http", "/healthz?full=1#200,204", ""},
		{"https", "/#2xx,3XX,body=ok,body=a%2Cb,host=www.example.com", ""},
		{"http", "/#host=192.0.2.1", ""},
		{"http", "healthz", `bad path "healthz"; want a path starting with /`},
		{"http", "/a b", `bad path "/a b"; want a path starting with /`},
		{"http", "/#600", `bad term "600"; want a status such as 200 or 2xx, body=TEXT, host=NAME, load=FIELD or fresh`},
		{"http", "/#", `bad term ""; want a status such as 200 or 2xx, body=TEXT, host=NAME, load=FIELD or fresh`},
		{"http", "/#body=%zz", `bad term "body=%zz"; want body=TEXT, percent-encoded (%20 for a space, %2C for a comma)`},
		{"http", "/#host=a,host=b", `bad term "host=b"; want one host=NAME with a host name such as www.example.com`},
		{"http", "/#host=bad_name", `bad term "host=bad_name"; want one host=NAME with a host name such as www.example.com`},
		{"dns", "www.example.com.", ""},
		{"dns", "www.example.com#NXDOMAIN,noerror,type=aaaa", ""},
		{"dns", "", `no name to query; want NAME such as www.example.com`},
		{"dns", "a..b", `bad name "a..b" to query; want a domain name such as www.example.com`},
		{"dns", "a.b#BOGUS", `bad term "BOGUS"; want an rcode such as NOERROR or NXDOMAIN, or type=TYPE`},
		{"dns", "a.b#BADSIG", `bad term "BADSIG"; want an rcode such as NOERROR or NXDOMAIN, or type=TYPE`},
		{"dns", "a.b#type=A,type=MX", `bad term "type=MX"; want one type=TYPE with a record type such as A, AAAA or SOA`},
		{"tls", "", ""},
		{"tls", "api.example.com", ""},
		{"tls", "-bad", `bad server name "-bad"; want a host name such as www.example.com`},
		{"icmp", "", `unknown kind "icmp"; want tcp, http, https, dns or tls`},
	}
	for _, tt := range tests {
		err := Validate(tt.kind, tt.target)
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tt.err {
			t.Errorf("Validate(%q, %q) = %q, want %q", tt.kind, tt.target, got, tt.err)
		}
	}
}

func TestHTTPStatus(t *testing.T) {
	tests := []struct {
		target string
		codes  map[int]bool
		want   string
	}{
		{"/", map[int]bool{200: true, 204: true, 299: true, 199: false, 300: false, 500: false}, "2xx"},
		{"/#200", map[int]bool{200: true, 204: false}, "200"},
		{"/#200,3xx", map[int]bool{200: true, 301: true, 399: true, 201: false, 404: false}, "200 or 3xx"},
		{"/#5XX", map[int]bool{500: true, 503: true, 200: false}, "5xx"},
		{"/#body=x", map[int]bool{200: true, 500: false}, "2xx"},
	}
	for _, tt := range tests {
		ht, err := ParseHTTP(tt.target)
		if err != nil {
			t.Fatalf("%q: %v", tt.target, err)
		}
		for code, want := range tt.codes {
			if got := ht.StatusOK(code); got != want {
				t.Errorf("%q: status %d ok=%v, want %v", tt.target, code, got, want)
			}
		}
		if got := ht.Want(); got != tt.want {
			t.Errorf("%q: Want() = %q, want %q", tt.target, got, tt.want)
		}
	}
}

// TestParse: the written form's kinds, defaults and normal forms, and
// where in the text each error lies (zones turns the offset into a
// column).
func TestParse(t *testing.T) {
	tests := []struct {
		in, kind, target string
		off              int // of the error, -1 none
		err              string
	}{
		{"none", "none", "", -1, ""},
		{"tcp", "tcp", "", -1, ""},
		{"http", "http", "/", -1, ""},
		{"https:/ready#200,3xx", "https", "/ready#200,3xx", -1, ""},
		{"dns:WWW.Example.com#NXDOMAIN", "dns", "www.example.com.#NXDOMAIN", -1, ""},
		{"tls", "tls", "", -1, ""},
		{"tls:API.example.com.", "tls", "api.example.com", -1, ""},
		{"icmp", "", "", 0, `unknown probe kind "icmp"; want one of none, tcp, http, https, dns, tls`},
		{"tcp:80", "", "", 4, `probe tcp takes no target; want probe=tcp`},
		{"http:healthz", "", "", 5, `bad probe target "healthz" for http; want a path starting with /, such as probe=http:/healthz`},
		{"https:/#600", "", "", 6, `bad probe target "/#600" for https: bad term "600"; want a status such as 200 or 2xx, body=TEXT, host=NAME, load=FIELD or fresh`},
		{"dns", "", "", 0, `probe dns needs a name to query; want probe=dns:NAME`},
		{"dns:a..b", "", "", 4, `bad probe target "a..b" for dns; want a domain name such as probe=dns:www.example.com`},
		// A server name as written has no empty label (IsHostName, which
		// the tls checker uses, drops one final dot more).
		{"tls:a..", "", "", 4, `bad probe target "a.." for tls; want a server name such as probe=tls:www.example.com`},
		{"tls:[::1]", "", "", 4, `bad probe target "[::1]" for tls; want a server name such as probe=tls:www.example.com`},
	}
	for _, tt := range tests {
		kind, target, err := Parse(tt.in)
		switch {
		case tt.off < 0 && err != nil:
			t.Errorf("Parse(%q): %v", tt.in, err)
		case tt.off >= 0 && err == nil:
			t.Errorf("Parse(%q) = %q, %q; want the error %q", tt.in, kind, target, tt.err)
		case err != nil && (err.Offset != tt.off || err.Msg != tt.err):
			t.Errorf("Parse(%q): error at %d %q, want at %d %q", tt.in, err.Offset, err.Msg, tt.off, tt.err)
		case err == nil && (kind != tt.kind || target != tt.target):
			t.Errorf("Parse(%q) = %q, %q; want %q, %q", tt.in, kind, target, tt.kind, tt.target)
		}
	}
}
