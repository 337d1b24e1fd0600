package zones

import (
	"regexp"
	"strings"
)

// The $POOL keys of the pool's HTTPS/SVCB records (https=) and NAPTR
// records (naptr=).

const (
	// maxALPN bounds the protocol IDs of https=.
	maxALPN = 16
	// maxNAPTR bounds the services fields of naptr=.
	maxNAPTR = 16
)

// naptrServiceRE is one S-NAPTR / U-NAPTR services field: an application
// service tag and its application protocol tags (RFC 3958 §6.5, RFC 4848
// §4.4: ALPHA *31ALPHANUMSYM each, ":" between them).
var naptrServiceRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]{0,31}(:[A-Za-z][A-Za-z0-9+.-]{0,31})*$`)

// checkALPN checks an https= value: ALPN protocol IDs separated by commas
// (RFC 9460 §7.1), such as h2,h3. at gives the position of byte i of the
// value.
func checkALPN(v string, at func(int) pos) *Error {
	if v == "" {
		return errf(at(0), "empty https; want ALPN protocol IDs separated by commas, such as https=h2,h3")
	}
	seen := map[string]bool{}
	off := 0
	for i, id := range strings.Split(v, ",") {
		if i >= maxALPN {
			return errf(at(off), "more than %d ALPN protocol IDs in https; want at most %d", maxALPN, maxALPN)
		}
		if id == "" {
			return errf(at(off), "empty ALPN protocol ID in https %q; want IDs such as h2,h3 separated by single commas", v)
		}
		if len(id) > 255 {
			return errf(at(off), "ALPN protocol ID of %d bytes in https; want at most 255", len(id))
		}
		for j := 0; j < len(id); j++ {
			if c := id[j]; c <= ' ' || c >= 0x7f || c == '\\' || c == '"' {
				return errf(at(off+j), "bad character %q in ALPN protocol ID %q; want printable characters without quotes or backslashes, such as h2", c, id)
			}
		}
		if seen[id] {
			return errf(at(off), "ALPN protocol ID %q given twice in https; want each once", id)
		}
		seen[id] = true
		off += len(id) + 1
	}
	return nil
}

// checkNAPTR checks a naptr= value: services fields separated by commas,
// each an application service tag and its protocol tags (APP:PROTO, such
// as x-poolnsd:http).
func checkNAPTR(v string, at func(int) pos) *Error {
	if v == "" {
		return errf(at(0), "empty naptr; want services fields separated by commas, such as naptr=x-poolnsd:http")
	}
	seen := map[string]bool{}
	off := 0
	for i, f := range strings.Split(v, ",") {
		if i >= maxNAPTR {
			return errf(at(off), "more than %d services fields in naptr; want at most %d", maxNAPTR, maxNAPTR)
		}
		if !naptrServiceRE.MatchString(f) {
			return errf(at(off), "bad NAPTR services field %q; want an application service tag and its protocol tags such as x-poolnsd:http (letters, digits, +, - and ., each tag starting with a letter, at most 32 long)", f)
		}
		if len(f) > 255 {
			return errf(at(off), "NAPTR services field of %d bytes; want at most 255", len(f))
		}
		l := strings.ToLower(f)
		if seen[l] {
			return errf(at(off), "NAPTR services field %q given twice; want each once", f)
		}
		seen[l] = true
		off += len(f) + 1
	}
	return nil
}

// checkUNAPTRFit checks that the U-NAPTR regular expression of pool
// name's URI template (uri) fits a NAPTR record's 255 bytes for any
// element: "!.*!URI!", with {name} at most a 63-byte label under the
// pool's name, {addr} an IPv6 address in brackets and {port} 5 digits.
func checkUNAPTRFit(uri, name string, a *kv) *Error {
	longest := strings.NewReplacer(
		"{name}", strings.Repeat("x", 64)+strings.TrimSuffix(name, "."),
		"{addr}", "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]",
		"{port}", "65535",
	).Replace(uri)
	if n := len(longest) + 5; n > 255 {
		return errf(a.valPos, "uri too long for the U-NAPTR records of naptr (up to %d bytes of regular expression with {name}, {addr} and {port} filled in); want a template of at most 250 bytes once filled in", n)
	}
	return nil
}
