package probe

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/miekg/dns"
)

// ValidateTarget checks Spec.Target for a kind as the built-in checkers
// read it, so that a configuration is rejected before it is probed:
//
//   - http, https: PATH[#TERM,...], PATH starting with "/"; each TERM a
//     status code ("200"), a status class ("2xx"), "body=TEXT" or
//     "host=NAME" (see HTTPChecker);
//   - dns: NAME[#TERM,...]; each TERM an rcode name ("NOERROR",
//     "NXDOMAIN") or "type=TYPE" (see DNSChecker);
//   - tls: a server name or "";
//   - tcp, none: nothing.
//
// The error says what is wrong and what was expected, without the kind or
// the target (the caller names those).
func ValidateTarget(kind, target string) error {
	switch kind {
	case "", "none", "tcp":
		if target != "" {
			return fmt.Errorf("%s takes no target", kindName(kind))
		}
	case "http", "https":
		_, err := parseHTTPTarget(target)
		return err
	case "dns":
		_, err := parseDNSTarget(target)
		return err
	case "tls":
		if target != "" && !isHostName(target) {
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

// httpTarget is a parsed PATH[#TERM,...].
type httpTarget struct {
	path     string
	statuses []string // "200", "2xx"; none means 2xx
	bodies   []string
	host     string // Host header and SNI; "" for ADDR:PORT and no SNI
	fresh    bool   // a new connection for every probe
	// loadField is the path of the body's JSON member that holds the
	// load ("load", "stats.load"); nil: none.
	loadField []string
}

func parseHTTPTarget(s string) (*httpTarget, error) {
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
	ht := &httpTarget{path: path}
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
			ht.bodies = append(ht.bodies, b)
		case strings.HasPrefix(term, "host="):
			h := strings.ToLower(strings.TrimSuffix(term[len("host="):], "."))
			if !isHostName(h) || ht.host != "" {
				return nil, fmt.Errorf("bad term %q; want one host=NAME with a host name such as www.example.com", term)
			}
			ht.host = h
		case term == "fresh":
			ht.fresh = true
		case strings.HasPrefix(term, "load="):
			f := strings.Split(term[len("load="):], ".")
			if ht.loadField != nil || slices.Contains(f, "") {
				return nil, fmt.Errorf("bad term %q; want one load=FIELD, the body's JSON member holding the load (load=load, load=stats.cpu)", term)
			}
			ht.loadField = f
		case statusTerm(term):
			ht.statuses = append(ht.statuses, strings.ToLower(term))
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

func (ht *httpTarget) statusOK(code int) bool {
	if len(ht.statuses) == 0 {
		return code >= 200 && code <= 299
	}
	c := strconv.Itoa(code)
	for _, s := range ht.statuses {
		if s == c || s[1:] == "xx" && len(c) == 3 && s[0] == c[0] {
			return true
		}
	}
	return false
}

// want describes the accepted statuses: "2xx", "200 or 204".
func (ht *httpTarget) want() string {
	if len(ht.statuses) == 0 {
		return "2xx"
	}
	return strings.Join(ht.statuses, " or ")
}

// dnsTarget is a parsed NAME[#TERM,...].
type dnsTarget struct {
	name   string // FQDN
	qtype  uint16
	rcodes []int // accepted; none means NOERROR
}

func parseDNSTarget(s string) (*dnsTarget, error) {
	name, expect, hasExpect := strings.Cut(s, "#")
	if name == "" {
		return nil, errors.New("no name to query; want NAME such as www.example.com")
	}
	if _, ok := dns.IsDomainName(name); !ok || strings.ContainsAny(name, " \t\r\n\"") {
		return nil, fmt.Errorf("bad name %q to query; want a domain name such as www.example.com", name)
	}
	dt := &dnsTarget{name: dns.Fqdn(name), qtype: dns.TypeA}
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
			dt.qtype, typeSet = qt, true
			continue
		}
		rc, known := dns.StringToRcode[strings.ToUpper(term)]
		if !known || rc > 0xF {
			return nil, fmt.Errorf("bad term %q; want an rcode such as NOERROR or NXDOMAIN, or type=TYPE", term)
		}
		if !slices.Contains(dt.rcodes, rc) {
			dt.rcodes = append(dt.rcodes, rc)
		}
	}
	return dt, nil
}

func (dt *dnsTarget) rcodeOK(rc int) bool {
	if len(dt.rcodes) == 0 {
		return rc == dns.RcodeSuccess
	}
	return slices.Contains(dt.rcodes, rc)
}

// want describes the accepted rcodes: "NOERROR", "NOERROR or NXDOMAIN".
func (dt *dnsTarget) want() string {
	if len(dt.rcodes) == 0 {
		return "NOERROR"
	}
	names := make([]string, len(dt.rcodes))
	for i, rc := range dt.rcodes {
		names[i] = rcodeName(rc)
	}
	return strings.Join(names, " or ")
}

func rcodeName(rc int) string {
	if s, ok := dns.RcodeToString[rc]; ok {
		return s
	}
	return fmt.Sprintf("RCODE%d", rc)
}

// isHostName reports whether s (without a final dot) is a host name:
// dot-separated labels of letters, digits and -, or an IP address.
func isHostName(s string) bool {
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

// parsedCache keeps parsed targets by their text, so that a checker does
// not parse its target on every probe. It holds at most maxParsed entries;
// beyond that, targets are parsed each time.
type parsedCache[T any] struct {
	mu sync.RWMutex
	m  map[string]T
}

const maxParsed = 4096

func (c *parsedCache[T]) get(s string, parse func(string) (T, error)) (T, error) {
	c.mu.RLock()
	v, ok := c.m[s]
	c.mu.RUnlock()
	if ok {
		return v, nil
	}
	v, err := parse(s)
	if err != nil {
		return v, err
	}
	c.mu.Lock()
	if c.m == nil {
		c.m = map[string]T{}
	}
	if len(c.m) < maxParsed {
		c.m[s] = v
	}
	c.mu.Unlock()
	return v, nil
}
