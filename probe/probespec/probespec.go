package probespec

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/miekg/dns"
)

// Validate checks a probe's target for its kind as the built-in checkers
// of package probe read it, so that a configuration is rejected before it
// is probed:
//
//   - http, https: PATH[#TERM,...], PATH starting with "/"; each TERM a
//     status code ("200"), a status class ("2xx"), "body=TEXT",
//     "host=NAME", "load=FIELD" or "fresh" (see ParseHTTP);
//   - dns: NAME[#TERM,...]; each TERM an rcode name ("NOERROR",
//     "NXDOMAIN") or "type=TYPE" (see ParseDNS);
//   - tls: a server name or "";
//   - tcp, none: nothing.
//
// The error says what is wrong and what was expected, without the kind or
// the target (the caller names those).
func Validate(kind, target string) error {
	switch kind {
	case "", "none", "tcp":
		if target != "" {
			return fmt.Errorf("%s takes no target", kindName(kind))
		}
	case "http", "https":
		_, err := ParseHTTP(target)
		return err
	case "dns":
		_, err := ParseDNS(target)
		return err
	case "tls":
		if target != "" && !IsHostName(target) {
			return fmt.Errorf("bad server name %q; want a host name such as www.example.com", target)
		}
	default:
		return fmt.Errorf("unknown kind %q; want tcp, http, https, dns or tls", kind)
	}
	return nil
}

func kindName(k string) string {
	if k == "" {
		return "none"
	}
	return k
}

// HTTP is a parsed http or https target, PATH[#TERM,...].
type HTTP struct {
	Path     string
	Statuses []string // "200", "2xx"; none means 2xx
	Bodies   []string // texts the body must hold
	Host     string   // Host header and SNI; "" for ADDR:PORT and no SNI
	Fresh    bool     // a new connection for every probe
	// LoadField is the path of the body's JSON member that holds the
	// load ("load", "stats.load"); nil: none.
	LoadField []string
}

// ParseHTTP parses an http or https target (see Validate).
func ParseHTTP(s string) (*HTTP, error) {
	path, expect, hasExpect := strings.Cut(s, "#")
	if path == "" {
		path = "/"
	}
	if !strings.HasPrefix(path, "/") || strings.ContainsAny(path, " \t\r\n\"") {
		return nil, fmt.Errorf("bad path %q; want a path starting with /", path)
	}
	if _, err := url.ParseRequestURI(path); err != nil {
		return nil, fmt.Errorf("bad path %q; want a path starting with /", path)
	}
	ht := &HTTP{Path: path}
	if !hasExpect {
		return ht, nil
	}
	for term := range strings.SplitSeq(expect, ",") {
		switch {
		case strings.HasPrefix(term, "body="):
			b, err := url.PathUnescape(term[len("body="):])
			if err != nil || b == "" {
				return nil, fmt.Errorf("bad term %q; want body=TEXT, percent-encoded (%%20 for a space, %%2C for a comma)", term)
			}
			ht.Bodies = append(ht.Bodies, b)
		case strings.HasPrefix(term, "host="):
			h := strings.ToLower(strings.TrimSuffix(term[len("host="):], "."))
			if !IsHostName(h) || ht.Host != "" {
				return nil, fmt.Errorf("bad term %q; want one host=NAME with a host name such as www.example.com", term)
			}
			ht.Host = h
		case term == "fresh":
			ht.Fresh = true
		case strings.HasPrefix(term, "load="):
			f := strings.Split(term[len("load="):], ".")
			if ht.LoadField != nil || slices.Contains(f, "") {
				return nil, fmt.Errorf("bad term %q; want one load=FIELD, the body's JSON member holding the load (load=load, load=stats.cpu)", term)
			}
			ht.LoadField = f
		case statusTerm(term):
			ht.Statuses = append(ht.Statuses, strings.ToLower(term))
		default:
			return nil, fmt.Errorf("bad term %q; want a status such as 200 or 2xx, body=TEXT, host=NAME, load=FIELD or fresh", term)
		}
	}
	return ht, nil
}

// statusTerm reports whether s is a status code 100–599 or a class 1xx–5xx.
func statusTerm(s string) bool {
	if len(s) != 3 || s[0] < '1' || s[0] > '5' {
		return false
	}
	if strings.EqualFold(s[1:], "xx") {
		return true
	}
	return s[1] >= '0' && s[1] <= '9' && s[2] >= '0' && s[2] <= '9'
}

// StatusOK reports whether an HTTP status code passes.
func (ht *HTTP) StatusOK(code int) bool {
	if len(ht.Statuses) == 0 {
		return code >= 200 && code <= 299
	}
	c := strconv.Itoa(code)
	for _, s := range ht.Statuses {
		if s == c || s[1:] == "xx" && len(c) == 3 && s[0] == c[0] {
			return true
		}
	}
	return false
}

// Want describes the accepted statuses: "2xx", "200 or 204".
func (ht *HTTP) Want() string {
	if len(ht.Statuses) == 0 {
		return "2xx"
	}
	return strings.Join(ht.Statuses, " or ")
}

// DNS is a parsed dns target, NAME[#TERM,...].
type DNS struct {
	Name   string // FQDN
	Qtype  uint16
	Rcodes []int // accepted; none means NOERROR
}

// ParseDNS parses a dns target (see Validate).
func ParseDNS(s string) (*DNS, error) {
	name, expect, hasExpect := strings.Cut(s, "#")
	if name == "" {
		return nil, errors.New("no name to query; want NAME such as www.example.com")
	}
	if _, ok := dns.IsDomainName(name); !ok || strings.ContainsAny(name, " \t\r\n\"") {
		return nil, fmt.Errorf("bad name %q to query; want a domain name such as www.example.com", name)
	}
	dt := &DNS{Name: dns.Fqdn(name), Qtype: dns.TypeA}
	if !hasExpect {
		return dt, nil
	}
	typeSet := false
	for term := range strings.SplitSeq(expect, ",") {
		if t, ok := strings.CutPrefix(strings.ToLower(term), "type="); ok {
			qt, known := dns.StringToType[strings.ToUpper(t)]
			if !known || typeSet {
				return nil, fmt.Errorf("bad term %q; want one type=TYPE with a record type such as A, AAAA or SOA", term)
			}
			dt.Qtype, typeSet = qt, true
			continue
		}
		rc, known := dns.StringToRcode[strings.ToUpper(term)]
		if !known || rc > 0xF {
			return nil, fmt.Errorf("bad term %q; want an rcode such as NOERROR or NXDOMAIN, or type=TYPE", term)
		}
		if !slices.Contains(dt.Rcodes, rc) {
			dt.Rcodes = append(dt.Rcodes, rc)
		}
	}
	return dt, nil
}

// RcodeOK reports whether a reply's rcode passes.
func (dt *DNS) RcodeOK(rc int) bool {
	if len(dt.Rcodes) == 0 {
		return rc == dns.RcodeSuccess
	}
	return slices.Contains(dt.Rcodes, rc)
}

// Want describes the accepted rcodes: "NOERROR", "NOERROR or NXDOMAIN".
func (dt *DNS) Want() string {
	if len(dt.Rcodes) == 0 {
		return "NOERROR"
	}
	names := make([]string, len(dt.Rcodes))
	for i, rc := range dt.Rcodes {
		names[i] = RcodeName(rc)
	}
	return strings.Join(names, " or ")
}

// RcodeName is rc's name ("NXDOMAIN"), or RCODEn if it has none.
func RcodeName(rc int) string {
	if s, ok := dns.RcodeToString[rc]; ok {
		return s
	}
	return fmt.Sprintf("RCODE%d", rc)
}

// IsHostName reports whether s (without a final dot) is a host name:
// dot-separated labels of letters, digits and -, or an IP address.
func IsHostName(s string) bool {
	s = strings.TrimSuffix(s, ".")
	if s == "" || len(s) > 253 {
		return false
	}
	if net.ParseIP(s) != nil {
		return true
	}
	for l := range strings.SplitSeq(s, ".") {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}
