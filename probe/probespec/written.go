package probespec

import (
	"fmt"
	"strings"

	"github.com/miekg/dns"
)

// Kinds are the probe kinds a pool or element may name, in the order that
// messages list them: none (no active probe), tcp, http, https, dns, tls.
var Kinds = []string{"none", "tcp", "http", "https", "dns", "tls"}

// SyntaxError is a problem with a probe as written (Parse). Msg says what
// is wrong and what was expected; Offset is where in the written text the
// problem lies: 0 for the kind, len(kind)+1 for the target.
type SyntaxError struct {
	Offset int
	Msg    string
}

func (e *SyntaxError) Error() string { return e.Msg }

// Parse reads a probe as a zone file writes it (probe=KIND[:TARGET]) and
// returns its kind and its target in the form the checkers read: for http
// and https the path "/" when none is given; for dns a lower-case FQDN,
// then its terms; for tls a lower-case server name without a final dot.
// The target is checked as Validate checks it.
func Parse(v string) (kind, target string, _ *SyntaxError) {
	kind, target, hasTarget := strings.Cut(v, ":")
	tat := len(kind) + 1
	bad := func(off int, format string, a ...any) (string, string, *SyntaxError) {
		return "", "", &SyntaxError{Offset: off, Msg: fmt.Sprintf(format, a...)}
	}
	switch kind {
	case "none", "tcp":
		if hasTarget {
			return bad(tat, "probe %s takes no target; want probe=%s", kind, kind)
		}
	case "http", "https":
		if !hasTarget {
			return kind, "/", nil
		}
		if !strings.HasPrefix(target, "/") {
			return bad(tat, "bad probe target %q for %s; want a path starting with /, such as probe=%s:/healthz", target, kind, kind)
		}
		if err := Validate(kind, target); err != nil {
			return bad(tat, "bad probe target %q for %s: %v", target, kind, err)
		}
	case "dns":
		if !hasTarget {
			return bad(0, "probe dns needs a name to query; want probe=dns:NAME")
		}
		name, terms, hasTerms := strings.Cut(target, "#")
		n := strings.ToLower(dns.Fqdn(name))
		if _, ok := dns.IsDomainName(n); !ok || name == "" || strings.ContainsAny(name, " \t\"") {
			return bad(tat, "bad probe target %q for dns; want a domain name such as probe=dns:www.example.com", target)
		}
		if hasTerms {
			n += "#" + terms
		}
		if err := Validate(kind, n); err != nil {
			return bad(tat, "bad probe target %q for dns: %v", target, err)
		}
		target = n
	case "tls":
		if !hasTarget {
			return kind, "", nil
		}
		n := strings.ToLower(strings.TrimSuffix(target, "."))
		if !serverName(n) {
			return bad(tat, "bad probe target %q for tls; want a server name such as probe=tls:www.example.com", target)
		}
		target = n
	default:
		return bad(0, "unknown probe kind %q; want one of %s", kind, strings.Join(Kinds, ", "))
	}
	return kind, target, nil
}

// serverName reports whether s (lower case, no trailing dot) is a host
// name as a zone file writes a tls probe's: dot-separated labels of 1 to
// 63 letters, digits and -, neither starting nor ending with -.
func serverName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for l := range strings.SplitSeq(s, ".") {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for i := 0; i < len(l); i++ {
			if c := l[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}
