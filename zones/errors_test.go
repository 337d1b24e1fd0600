package zones

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/poolnsd/poolnsd/handlespace"
)

// policyError is handlespace.NewPolicy's message for an unknown policy.
// It lists the policies that handlespace has, which grow over time.
func policyError(name string) string {
	return fmt.Sprintf("unknown policy %q; want one of %s", name, strings.Join(handlespace.PolicyNames(), ", "))
}

func idOf(addr string, port uint16) string {
	return handlespace.IDString(handlespace.ElementID(netip.MustParseAddr(addr), port))
}

const soa = "@ SOA ns1 hostmaster 1 3600 600 86400 5\n"

// errorCases are zone files with one mistake each, and the exact message.
// The file is z.zone; more files may be given as name, content pairs.
var errorCases = []struct {
	name string
	src  string
	more []string
	want string
}{
	// Lexer.
	{"unbalanced )", head + "a A 192.0.2.1 )\n", nil, `z.zone:6:15: unbalanced ")"; want a "(" before it`},
	{"unclosed (", head + "a TXT ( x\n y\n", nil, `z.zone:6:7: unclosed "("; want a ")" to end the entry`},
	{"nested (", head + "a TXT (\n ( x ) )\n", nil, `z.zone:7:2: nested "("; want one level of parentheses (the first opens at line 6)`},
	{"unterminated quote", head + "a TXT \"abc\nb A 192.0.2.1\n", nil, `z.zone:6:7: unterminated quoted string; want a closing " on the same line`},
	{"unterminated quote at the end", head + "a TXT abc\"d", nil, `z.zone:6:10: unterminated quoted string; want a closing " on the same line`},
	{"backslash at the end of a line", head + "a TXT abc\\\n", nil, `z.zone:6:10: "\" at the end of a line; want an escaped character after it`},
	{"escape above 255", head + "a TXT a\\256\n", nil, `z.zone:6:8: bad escape "\\256"; want \DDD with DDD at most 255`},
	{"short escape", head + "a TXT a\\12x\n", nil, `z.zone:6:8: bad escape "\\12"; want \DDD with three decimal digits or \ and one character`},

	// Parentheses: the error is on the line of the offending token.
	{"error on a later line in parentheses", head + "txt TXT ( \"one\"\n  \"two\" )\nmx MX (\n  10 ; preference\n  mail.example.\n  junk )\n", nil,
		`z.zone:11:3: bad MX record: garbage after rdata "junk"; want PREFERENCE EXCHANGE`},
	{"bad field on a later line", head + "srv SRV ( 0 0\n  99999 ns1 )\n", nil,
		`z.zone:7:3: bad SRV record: bad SRV Port "99999"; want PRIORITY WEIGHT PORT TARGET`},
	{"SOA data too short over lines", "$TTL 60\n$ORIGIN pool.example.\n@ SOA ns1 hostmaster (\n 1 3600\n 600 86400 )\n", nil,
		`z.zone:5:6: bad SOA record: the data ends after 6 of its 7 fields; want MNAME RNAME SERIAL REFRESH RETRY EXPIRE MINIMUM`},
	{"SOA data ends early", "$TTL 60\n$ORIGIN pool.example.\n@ SOA ns1\n", nil,
		`z.zone:3:7: bad SOA record: the data ends after 1 of its 7 fields; want MNAME RNAME SERIAL REFRESH RETRY EXPIRE MINIMUM`},
	{"MX data ends early", head + "mx MX ( 10\n )\n", nil,
		`z.zone:6:9: bad MX record: bad MX Mx, the data ends too early; want PREFERENCE EXCHANGE`},
	{"$POOL over lines", head + "$POOL web (\n  policy=rr\n  answers=0 )\n", nil, `z.zone:8:11: bad answers "0"; want a number from 1 to 1000`},

	// Ordinary records.
	{"unknown type", head + "x BOGUS 1\n", nil, `z.zone:6:3: unknown record type "BOGUS"; want a type such as A, AAAA, NS, TXT, SRV or PE`},
	{"quoted type", head + "x \"A\" 192.0.2.1\n", nil, `z.zone:6:3: unknown record type "\"A\""; want a type such as A, AAAA, NS, TXT, SRV or PE`},
	{"meta type", head + "x AXFR 1\n", nil, `z.zone:6:3: record type AXFR cannot be written in a zone; want a data type such as A, AAAA, TXT or SRV`},
	{"meta type by number", head + "x TYPE41 \\# 0\n", nil, `z.zone:6:3: record type TYPE41 cannot be written in a zone; want a data type such as A, AAAA, TXT or SRV`},
	{"missing type", head + "x 300 IN\n", nil, `z.zone:6:7: missing record type after "IN"; want a type such as A, AAAA, NS, TXT, SRV or PE`},
	{"class ANY", head + "x ANY TXT a\n", nil, `z.zone:6:3: class ANY is not served; want IN`},
	{"class CH", head + "x CH TXT a\n", nil, `z.zone:6:3: class CH is not served; want IN`},
	{"bad TTL", head + "x 5x A 192.0.2.1\n", nil, `z.zone:6:3: bad TTL "5x"; want seconds (at most 2147483647) or a duration such as 5s, 1m or 1h30m`},
	{"TTL too large", head + "x 2147483648 A 192.0.2.1\n", nil, `z.zone:6:3: bad TTL "2147483648"; want seconds (at most 2147483647) or a duration such as 5s, 1m or 1h30m`},
	{"no data", head + "x A\n", nil, `z.zone:6:3: A record without data; want an IPv4 address`},
	{"bad A", head + "x A 10.0.0.300\n", nil, `z.zone:6:5: bad A record: bad A A "10.0.0.300"; want an IPv4 address`},
	{"bad AAAA", head + "x IN AAAA 192.0.2.1\n", nil, `z.zone:6:11: bad AAAA record: bad AAAA AAAA "192.0.2.1"; want an IPv6 address`},
	{"garbage after rdata", head + "x A 192.0.2.1 192.0.2.2\n", nil, `z.zone:6:15: bad A record: garbage after rdata "192.0.2.2"; want an IPv4 address`},
	{"bad MX preference", head + "x MX ten mail\n", nil, `z.zone:6:6: bad MX record: bad MX Pref "ten"; want PREFERENCE EXCHANGE`},
	{"no owner yet", "  A 192.0.2.1\n", nil, `z.zone:1:3: no owner name and no previous one; want an owner name at the start of the line`},
	{"no TTL", "$ORIGIN pool.example.\n" + soa, nil, `z.zone:2:1: no TTL for this record; want a $TTL directive before it or a TTL in the record`},
	{"@ without $ORIGIN", "$TTL 60\n" + soa, nil, `z.zone:2:1: "@" with no $ORIGIN; want $ORIGIN before it or an absolute name ending in a dot`},
	{"relative name without $ORIGIN", "$TTL 60\npool SOA ns1 hostmaster 1 3600 600 86400 5\n", nil, `z.zone:2:1: relative name "pool" with no $ORIGIN; want $ORIGIN before it or an absolute name ending in a dot`},
	{"relative rdata without $ORIGIN", "$TTL 60\npool.example. SOA ns1 hostmaster 1 3600 600 86400 5\n", nil, `z.zone:2:19: bad SOA record: bad SOA Ns "ns1"; want MNAME RNAME SERIAL REFRESH RETRY EXPIRE MINIMUM`},
	{"bad name", head + "a..b A 192.0.2.1\n", nil, `z.zone:6:1: bad name "a..b"; want a domain name such as www or www.pool.example.`},
	{"label too long", head + strings.Repeat("a", 64) + " A 192.0.2.1\n", nil,
		`z.zone:6:1: bad name "` + strings.Repeat("a", 64) + `"; want a domain name such as www or www.pool.example.`},
	{"name too long in the data", head + "x CNAME " + strings.Repeat("abcdefghi.", 25) + "x\n", nil,
		`z.zone:6:9: bad CNAME record: domain name exceeded 255 wire-format octets; want a domain name`},
	{"quoted owner", head + "\"a\" A 192.0.2.1\n", nil, `z.zone:6:1: bad name "a"; want a domain name, not a quoted string`},

	// The zone's rules.
	{"record before the SOA", "$ORIGIN pool.example.\n$TTL 60\nns1 A 192.0.2.53\n" + soa, nil, `z.zone:3:1: A record before the SOA record; want the SOA record first: its owner names the zone`},
	{"second SOA", head + "@ SOA ns1 hostmaster 2 3600 600 86400 5\n", nil, `z.zone:6:1: second SOA record (the first is at line 3); want exactly one SOA record per file, at the zone's origin`},
	{"second SOA elsewhere", head + "sub SOA ns1 hostmaster 2 3600 600 86400 5\n", nil, `z.zone:6:1: second SOA record (the first is at line 3); want exactly one SOA record per file, at the zone's origin`},
	{"SOA at the root", "$TTL 60\n. SOA a. b. 1 2 3 4 5\n", nil, `z.zone:2:1: SOA record at the root; want a zone below the root such as pool.example.`},
	{"out of zone", head + "www.other.example. A 192.0.2.1\n", nil, `z.zone:6:1: record www.other.example. is outside the zone pool.example.; want names at or under the zone's origin`},
	{"out of zone by $ORIGIN", head + "$ORIGIN example.\nx A 192.0.2.1\n", nil, `z.zone:7:1: record x.example. is outside the zone pool.example.; want names at or under the zone's origin`},
	{"no SOA", "$ORIGIN pool.example.\n$TTL 60\n", nil, `z.zone:2: no SOA record; want one SOA record, at the zone's origin, before any other record`},
	{"empty file", "", nil, `z.zone:1: no SOA record; want one SOA record, at the zone's origin, before any other record`},
	{"no NS", "$ORIGIN pool.example.\n$TTL 60\n" + soa + "sub NS ns1\n", nil, `z.zone:3:1: no NS record at the zone's origin pool.example.; want at least one`},
	{"CNAME then other", head + "www CNAME x\nwww A 192.0.2.1\n", nil, `z.zone:7:1: A record at www.pool.example. beside its CNAME record (line 6); want a CNAME alone at its name`},
	{"other then CNAME", head + "www A 192.0.2.1\nWWW CNAME x\n", nil, `z.zone:7:1: CNAME record at WWW.pool.example. beside other records (line 6); want a CNAME alone at its name`},
	{"two CNAMEs", head + "www CNAME x\n CNAME y\n", nil, `z.zone:7:2: second CNAME record at www.pool.example. (the first is at line 6); want one CNAME per name`},
	{"CNAME at the origin", head + "@ CNAME x\n", nil, `z.zone:6:1: CNAME record at pool.example. beside other records (line 3); want a CNAME alone at its name`},

	// Directives.
	{"unknown directive", head + "$GENERATE 1-2 a$ A 192.0.2.$\n", nil, `z.zone:6:1: unknown directive "$GENERATE"; want $ORIGIN, $TTL, $INCLUDE or $POOL`},
	{"$ORIGIN without name", "$ORIGIN\n", nil, `z.zone:1:1: $ORIGIN takes one name; want $ORIGIN NAME`},
	{"$ORIGIN relative without origin", "$ORIGIN pool\n", nil, `z.zone:1:9: relative name "pool" with no $ORIGIN; want $ORIGIN before it or an absolute name ending in a dot`},
	{"$TTL without value", "$TTL\n", nil, `z.zone:1:1: $TTL takes one TTL; want $TTL SECONDS, such as $TTL 300 or $TTL 1h`},
	{"bad $TTL", "$TTL x\n", nil, `z.zone:1:6: bad TTL "x"; want seconds (at most 2147483647) or a duration such as 5s, 1m or 1h30m`},
	{"$INCLUDE without file", head + "$INCLUDE\n", nil, `z.zone:6:1: $INCLUDE takes a file name and an optional origin; want $INCLUDE FILE [ORIGIN]`},
	{"$INCLUDE with too much", head + "$INCLUDE a b c\n", nil, `z.zone:6:1: $INCLUDE takes a file name and an optional origin; want $INCLUDE FILE [ORIGIN]`},
	{"$INCLUDE missing file", head + "$INCLUDE nope.inc\n", nil, `z.zone:6:10: cannot read $INCLUDE file "nope.inc": file does not exist; want a readable file in the zones directory`},
	{"$INCLUDE outside", head + "$INCLUDE ../x\n", nil, `z.zone:6:10: $INCLUDE path "../x" is not inside the zones directory; want a relative path such as inc/web.inc, without .. or a leading /`},
	{"error in an included file", head + "$INCLUDE inc/a.inc\n", []string{"inc/a.inc", "ok A 192.0.2.1\nbad A 192.0.2.300\n"},
		`inc/a.inc:2:7: bad A record: bad A A "192.0.2.300"; want an IPv4 address`},
	{"error after an include", head + "$INCLUDE a.inc\nbad A 192.0.2.300\n", []string{"a.inc", "ok A 192.0.2.1\n"},
		`z.zone:7:7: bad A record: bad A A "192.0.2.300"; want an IPv4 address`},
	{"included file has no previous owner", head + "www A 192.0.2.1\n$INCLUDE a.inc\n", []string{"a.inc", " A 192.0.2.2\n"},
		`a.inc:1:2: no owner name and no previous one; want an owner name at the start of the line`},
	{"$INCLUDE self", head + "$INCLUDE z.zone\n", nil, `z.zone:6:10: $INCLUDE loop: z.zone includes z.zone; want no file to include itself`},
	{"$INCLUDE loop", head + "$INCLUDE a.inc\n", []string{"a.inc", "$INCLUDE b.inc\n", "b.inc", "\n$INCLUDE a.inc\n"},
		`b.inc:2:10: $INCLUDE loop: a.inc includes b.inc includes a.inc; want no file to include itself`},
	{"$INCLUDE too deep", head + "$INCLUDE i1\n", []string{"i1", "$INCLUDE i2\n", "i2", "$INCLUDE i3\n", "i3", "$INCLUDE i4\n", "i4", "$INCLUDE i5\n",
		"i5", "$INCLUDE i6\n", "i6", "$INCLUDE i7\n", "i7", "$INCLUDE i8\n", "i8", "$INCLUDE i9\n", "i9", "a A 192.0.2.1\n"},
		`i8:1:1: $INCLUDE nested more than 8 deep; want at most 8 levels of $INCLUDE`},

	// $POOL.
	{"$POOL before the SOA", "$ORIGIN pool.example.\n$POOL web\n", nil, `z.zone:2:1: $POOL before the SOA record; want the SOA record first: its owner names the zone`},
	{"$POOL without handle", head + "$POOL\n", nil, `z.zone:6:1: $POOL without a pool handle; want $POOL HANDLE key=value ...`},
	{"$POOL key first", head + "$POOL policy=rr\n", nil, `z.zone:6:7: $POOL without a pool handle; want $POOL HANDLE key=value ..., not "policy=rr" first`},
	{"$POOL two labels", head + "$POOL a.b\n", nil, `z.zone:6:7: pool a.b.pool.example. is not directly under the zone's origin pool.example.; want a handle of one label under it`},
	{"$POOL in another zone", head + "$POOL web.other.\n", nil, `z.zone:6:7: pool web.other. is not directly under the zone's origin pool.example.; want a handle of one label under it`},
	{"$POOL at the origin", head + "$POOL @\n", nil, `z.zone:6:7: pool pool.example. is not directly under the zone's origin pool.example.; want a handle of one label under it`},
	{"$POOL bad handle", head + "$POOL w*b\n", nil, `z.zone:6:7: bad pool handle "w*b"; want one label of letters, digits, - and _`},
	{"$POOL escaped handle", head + "$POOL w\\101b\n", nil, `z.zone:6:7: bad pool handle "w\\101b"; want one label of letters, digits, - and _`},
	{"$POOL handle -", head + "$POOL -\n", nil, `z.zone:6:7: bad pool handle: label "-" begins or ends with '-'; want a letter, digit or '_' there`},
	{"$POOL handle -web", head + "$POOL -web\n", nil, `z.zone:6:7: bad pool handle: label "-web" begins or ends with '-'; want a letter, digit or '_' there`},
	{"PE 0.0.0.0", head + "$POOL web\nweb PE 0.0.0.0:80\n", nil, `z.zone:7:8: bad PE address in "0.0.0.0:80": 0.0.0.0 is the unspecified address; want the element's own address`},
	{"PE [::]", head + "$POOL web\nweb PE [::]:80\n", nil, `z.zone:7:8: bad PE address in "[::]:80": :: is the unspecified address; want the element's own address`},
	{"PE multicast", head + "$POOL web\nweb PE 10.0.0.1,224.0.0.9:80\n", nil, `z.zone:7:8: bad PE address in "10.0.0.1,224.0.0.9:80": 224.0.0.9 is a multicast address; want a unicast one`},
	{"PE broadcast", head + "$POOL web\nweb PE 255.255.255.255:80\n", nil, `z.zone:7:8: bad PE address in "255.255.255.255:80": 255.255.255.255 is the broadcast address; want a unicast one`},
	{"$POOL twice", head + "$POOL web\n$POOL Web\n", nil, `z.zone:7:7: pool web is already defined at line 6; want one $POOL per pool`},
	{"$POOL twice across include", head + "$INCLUDE p.inc\n$POOL web\n", []string{"p.inc", "$POOL web\n"}, `z.zone:7:7: pool web is already defined at p.inc:1; want one $POOL per pool`},
	{"$POOL on a static name", head + "web A 192.0.2.1\n$POOL web\n", nil, `z.zone:7:7: pool web: the name web.pool.example. already has static records (line 6); want a pool's names to be its own`},
	{"$POOL above a static name", head + "x.web TXT a\n$POOL web\n", nil, `z.zone:7:7: pool web: the name web.pool.example. already has static records (line 6); want a pool's names to be its own`},
	{"static record at a pool", head + "$POOL web\nweb A 192.0.2.1\n", nil, `z.zone:7:1: A record at web.pool.example., a name of pool web (line 6); want static records outside the names of pools`},
	{"static record under a pool", head + "$POOL web\n_http._tcp.web SRV 0 0 80 x\n", nil, `z.zone:7:1: SRV record at _http._tcp.web.pool.example., a name of pool web (line 6); want static records outside the names of pools`},
	{"static record at an escaped pool name", head + "$POOL web\nw\\101b A 192.0.2.1\n", nil, `z.zone:7:1: A record at w\101b.pool.example., a name of pool web (line 6); want static records outside the names of pools`},
	{"static record with the blank owner after $POOL", head + "$POOL web\n  TXT x\n", nil, `z.zone:7:3: TXT record at web.pool.example., a name of pool web (line 6); want static records outside the names of pools`},
	{"unknown $POOL key", head + "$POOL web polcy=rr\n", nil, `z.zone:6:11: unknown $POOL key "polcy"; want one of policy, dpf, distancestep, service, ttl, answers, alldown, uri, https, naptr, probe, interval, timeout, rise, fall, jitter`},
	{"dpf too large", head + "$POOL web policy=lu-dpf dpf=2\n", nil, `z.zone:6:29: bad dpf "2"; want the load each millisecond of distance adds: a fraction above 0 up to 1 or a percentage up to 100% such as 0.1% (without a penalty, use the policy without -dpf)`},
	{"dpf over 100%", head + "$POOL web policy=lu-dpf dpf=101%\n", nil, `z.zone:6:29: bad dpf "101%"; want the load each millisecond of distance adds: a fraction above 0 up to 1 or a percentage up to 100% such as 0.1% (without a penalty, use the policy without -dpf)`},
	{"dpf negative", head + "$POOL web dpf=-0.1 policy=plud-dpf\n", nil, `z.zone:6:15: bad dpf "-0.1"; want the load each millisecond of distance adds: a fraction above 0 up to 1 or a percentage up to 100% such as 0.1% (without a penalty, use the policy without -dpf)`},
	{"dpf without a dpf policy", head + "$POOL web policy=lud dpf=1%\n", nil, `z.zone:6:22: dpf with policy lud, which does not weigh distance; want a distance-penalty policy (lu-dpf, lud-dpf, plu-dpf, plud-dpf, wrand-dpf) or no dpf`},
	{"dpf zero", head + "$POOL web policy=lu-dpf dpf=0%\n", nil, `z.zone:6:29: bad dpf "0%"; want the load each millisecond of distance adds: a fraction above 0 up to 1 or a percentage up to 100% such as 0.1% (without a penalty, use the policy without -dpf)`},
	{"distancestep without policy", head + "$POOL web distancestep=10ms\n", nil, `z.zone:6:11: distancestep with policy rr, which does not weigh distance; want a distance-penalty policy (lu-dpf, lud-dpf, plu-dpf, plud-dpf, wrand-dpf) or no distancestep`},
	{"distancestep zero", head + "$POOL web policy=wrand-dpf distancestep=0\n", nil, `z.zone:6:41: bad distancestep "0"; want whole milliseconds from 1ms to 1m0s such as 50ms`},
	{"distancestep fraction", head + "$POOL web policy=wrand-dpf distancestep=1.5ms\n", nil, `z.zone:6:41: bad distancestep "1.5ms"; want whole milliseconds from 1ms to 1m0s such as 50ms`},
	{"distancestep too long", head + "$POOL web policy=wrand-dpf distancestep=2m\n", nil, `z.zone:6:41: bad distancestep "2m"; want whole milliseconds from 1ms to 1m0s such as 50ms`},
	{"$POOL argument without =", head + "$POOL web rr\n", nil, `z.zone:6:11: bad $POOL argument "rr"; want key=value`},
	{"$POOL argument without key", head + "$POOL web =rr\n", nil, `z.zone:6:11: bad $POOL argument "=rr"; want key=value`},
	{"$POOL key twice", head + "$POOL web ttl=5 ttl=6\n", nil, `z.zone:6:17: key ttl given twice (first at column 11); want each key at most once`},
	{"service without _", head + "$POOL web service=http._tcp\n", nil, `z.zone:6:19: bad service "http._tcp"; want two labels such as _http._tcp, each starting with _`},
	{"service one label", head + "$POOL web service=_http\n", nil, `z.zone:6:19: bad service "_http"; want two labels such as _http._tcp, each starting with _`},
	{"service three labels", head + "$POOL web service=_a._b._c\n", nil, `z.zone:6:19: bad service "_a._b._c"; want two labels such as _http._tcp, each starting with _`},
	{"ttl garbage", head + "$POOL web ttl=5x\n", nil, `z.zone:6:15: bad ttl "5x"; want seconds or a duration such as 5s or 1m, at most 2147483647 seconds`},
	{"ttl not whole seconds", head + "$POOL web ttl=500ms\n", nil, `z.zone:6:15: bad ttl "500ms"; want seconds or a duration such as 5s or 1m, at most 2147483647 seconds`},
	{"ttl too large", head + "$POOL web ttl=2147483648\n", nil, `z.zone:6:15: bad ttl "2147483648"; want seconds or a duration such as 5s or 1m, at most 2147483647 seconds`},
	{"ttl negative", head + "$POOL web ttl=-1s\n", nil, `z.zone:6:15: bad ttl "-1s"; want seconds or a duration such as 5s or 1m, at most 2147483647 seconds`},
	{"ttl empty", head + "$POOL web ttl=\n", nil, `z.zone:6:15: bad ttl ""; want seconds or a duration such as 5s or 1m, at most 2147483647 seconds`},
	{"answers 0", head + "$POOL web answers=0\n", nil, `z.zone:6:19: bad answers "0"; want a number from 1 to 1000`},
	{"answers 1001", head + "$POOL web answers=1001\n", nil, `z.zone:6:19: bad answers "1001"; want a number from 1 to 1000`},
	{"answers +3", head + "$POOL web answers=+3\n", nil, `z.zone:6:19: bad answers "+3"; want a number from 1 to 1000`},
	{"alldown", head + "$POOL web alldown=some\n", nil, `z.zone:6:19: bad alldown "some"; want none or all`},
	{"uri unknown placeholder", head + "$POOL web service=_http._tcp uri=http://{host}/\n", nil, `z.zone:6:41: unknown placeholder "{host}" in uri; want {name}, {addr} or {port}`},
	{"uri unclosed placeholder", head + "$POOL web service=_http._tcp uri=http://{name/\n", nil, `z.zone:6:41: unclosed "{" in uri "http://{name/"; want {name}, {addr} or {port}`},
	{"uri lone }", head + "$POOL web service=_http._tcp uri=http://x}/\n", nil, `z.zone:6:42: unbalanced "}" in uri "http://x}/"; want {name}, {addr} or {port}`},
	{"uri not absolute", head + "$POOL web service=_http._tcp uri=/{name}\n", nil, `z.zone:6:34: bad uri "/{name}"; want an absolute URI such as http://{name}:{port}/`},
	{"uri with a space", head + "$POOL web service=_http._tcp \"uri=http://a b/\"\n", nil, `z.zone:6:43: bad uri "http://a b/": white space, control characters and quotes are not allowed; want an absolute URI such as http://{name}:{port}/`},
	{"uri escaped", head + "$POOL web service=_http._tcp uri=http://\\{x}/\n", nil, `z.zone:6:41: unknown placeholder "{x}" in uri; want {name}, {addr} or {port}`},
	{"uri quoted", head + "$POOL web service=_http._tcp uri=\"http://{x}/\"\n", nil, `z.zone:6:42: unknown placeholder "{x}" in uri; want {name}, {addr} or {port}`},
	{"uri without service", head + "$POOL web uri=http://{name}/\n", nil, `z.zone:6:11: uri without service; want service=_svc._proto too, the name of the URI records`},
	{"unknown policy", head + "$POOL web policy=lru\n", nil, "z.zone:6:18: " + policyError("lru")},
	{"policy in upper case", head + "$POOL web policy=RR\n", nil, "z.zone:6:18: " + policyError("RR")},
	{"unknown probe", head + "$POOL web probe=icmp\n", nil, `z.zone:6:17: unknown probe kind "icmp"; want one of none, tcp, http, https, dns, tls`},
	{"probe tcp with target", head + "$POOL web probe=tcp:80\n", nil, `z.zone:6:21: probe tcp takes no target; want probe=tcp`},
	{"probe none with target", head + "$POOL web probe=none:x\n", nil, `z.zone:6:22: probe none takes no target; want probe=none`},
	{"probe http without /", head + "$POOL web probe=http:healthz\n", nil, `z.zone:6:22: bad probe target "healthz" for http; want a path starting with /, such as probe=http:/healthz`},
	{"probe https empty target", head + "$POOL web probe=https:\n", nil, `z.zone:6:23: bad probe target "" for https; want a path starting with /, such as probe=https:/healthz`},
	{"probe dns without name", head + "$POOL web probe=dns\n", nil, `z.zone:6:17: probe dns needs a name to query; want probe=dns:NAME`},
	{"probe dns bad name", head + "$POOL web probe=dns:a..b\n", nil, `z.zone:6:21: bad probe target "a..b" for dns; want a domain name such as probe=dns:www.example.com`},
	{"probe http bad term", head + "$POOL web probe=http:/h#20x\n", nil, `z.zone:6:22: bad probe target "/h#20x" for http: bad term "20x"; want a status such as 200 or 2xx, body=TEXT, host=NAME, load=FIELD or fresh`},
	{"probe http empty body", head + "$POOL web probe=http:/h#body=\n", nil, `z.zone:6:22: bad probe target "/h#body=" for http: bad term "body="; want body=TEXT, percent-encoded (%20 for a space, %2C for a comma)`},
	{"probe dns bad rcode", head + "$POOL web probe=dns:a.b#NOPE\n", nil, `z.zone:6:21: bad probe target "a.b#NOPE" for dns: bad term "NOPE"; want an rcode such as NOERROR or NXDOMAIN, or type=TYPE`},
	{"probe dns bad type", head + "$POOL web probe=dns:a.b#type=XYZ\n", nil, `z.zone:6:21: bad probe target "a.b#type=XYZ" for dns: bad term "type=XYZ"; want one type=TYPE with a record type such as A, AAAA or SOA`},
	{"jitter too large", head + "$POOL web jitter=60%\n", nil, `z.zone:6:18: bad jitter "60%"; want a fraction from 0 to 0.5 or a percentage up to 50% such as 10%`},
	{"PE jitter bad", head + "$POOL web\nweb PE 10.0.0.1:80 jitter=x\n", nil, `z.zone:7:27: bad jitter "x"; want a fraction from 0 to 0.5 or a percentage up to 50% such as 10%`},
	{"probe tls bad name", head + "$POOL web probe=tls:bad_name\n", nil, `z.zone:6:21: bad probe target "bad_name" for tls; want a server name such as probe=tls:www.example.com`},
	{"interval too short", head + "$POOL web interval=50ms\n", nil, `z.zone:6:20: bad interval "50ms"; want a duration of at least 100ms such as 1s`},
	{"interval without unit", head + "$POOL web interval=1\n", nil, `z.zone:6:20: bad interval "1"; want a duration of at least 100ms such as 1s`},
	{"timeout zero", head + "$POOL web timeout=0s\n", nil, `z.zone:6:19: bad timeout "0s"; want a duration such as 500ms, shorter than the interval`},
	{"timeout not shorter", head + "$POOL web timeout=1s\n", nil, `z.zone:6:19: probe timeout 1s is not shorter than the interval 1s; want timeout < interval`},
	{"interval below the default timeout", head + "$POOL web interval=200ms\n", nil, `z.zone:6:20: probe timeout 500ms is not shorter than the interval 200ms; want timeout < interval`},
	{"rise 0", head + "$POOL web rise=0\n", nil, `z.zone:6:16: bad rise "0"; want a whole number of at least 1`},
	{"fall x", head + "$POOL web fall=x\n", nil, `z.zone:6:16: bad fall "x"; want a whole number of at least 1`},

	// PE.
	{"PE before its $POOL", head + "web PE 10.0.0.1:80\n$POOL web\n", nil, `z.zone:6:1: PE for pool web before its $POOL directive; want $POOL web first`},
	{"PE without $POOL", head + "Web PE 10.0.0.1:80\n", nil, `z.zone:6:1: PE for pool web before its $POOL directive; want $POOL web first`},
	{"PE below a pool", head + "$POOL web\nx.web PE 10.0.0.1:80\n", nil, `z.zone:7:1: PE at x.web.pool.example., which is not a pool name; want the handle of a $POOL, one label under pool.example.`},
	{"PE at the origin", head + "@ PE 10.0.0.1:80\n", nil, `z.zone:6:1: PE at pool.example., which is not a pool name; want the handle of a $POOL, one label under pool.example.`},
	{"PE outside the zone", head + "web.other. PE 10.0.0.1:80\n", nil, `z.zone:6:1: PE at web.other., which is not a pool name; want the handle of a $POOL, one label under pool.example.`},
	{"PE before the SOA", "$ORIGIN pool.example.\nweb PE 10.0.0.1:80\n", nil, `z.zone:2:1: PE before the SOA record; want the SOA record first: its owner names the zone`},
	{"PE without address", head + "$POOL web\nweb PE\n", nil, `z.zone:7:5: PE without an address; want ADDR:PORT after PE, IPv6 as [ADDR]:PORT`},
	{"PE bad IPv4", head + "$POOL web\nweb PE 10.0.0.300:80\n", nil, `z.zone:7:8: bad PE address "10.0.0.300:80"; want ADDR:PORT, IPv6 as [ADDR]:PORT`},
	{"PE IPv6 without brackets", head + "$POOL web\nweb PE 2001:db8::1:80\n", nil, `z.zone:7:8: bad PE address "2001:db8::1:80"; want ADDR:PORT, IPv6 as [ADDR]:PORT`},
	{"PE IPv6 without port", head + "$POOL web\nweb PE [2001:db8::1]\n", nil, `z.zone:7:8: bad PE address "[2001:db8::1]"; want ADDR:PORT, IPv6 as [ADDR]:PORT`},
	{"PE without port", head + "$POOL web\nweb PE 10.0.0.1\n", nil, `z.zone:7:8: bad PE address "10.0.0.1"; want ADDR:PORT, IPv6 as [ADDR]:PORT`},
	{"PE IPv4 in brackets", head + "$POOL web\nweb PE [10.0.0.1]:80\n", nil, `z.zone:7:8: bad PE address "[10.0.0.1]:80"; want ADDR:PORT, IPv6 as [ADDR]:PORT`},
	{"PE IPv4-mapped IPv6", head + "$POOL web\nweb PE [::ffff:10.0.0.1]:80\n", nil, `z.zone:7:8: bad PE address "[::ffff:10.0.0.1]:80"; want ADDR:PORT, IPv6 as [ADDR]:PORT`},
	{"PE IPv6 zone", head + "$POOL web\nweb PE [fe80::1%eth0]:80\n", nil, `z.zone:7:8: bad PE address "[fe80::1%eth0]:80"; want ADDR:PORT, IPv6 as [ADDR]:PORT`},
	{"PE host name", head + "$POOL web\nweb PE www.example.com:80\n", nil, `z.zone:7:8: bad PE address "www.example.com:80"; want ADDR:PORT, IPv6 as [ADDR]:PORT`},
	{"PE empty address in list", head + "$POOL web\nweb PE 10.0.0.1,:80\n", nil, `z.zone:7:8: bad PE address "10.0.0.1,:80"; want ADDR:PORT, IPv6 as [ADDR]:PORT`},
	{"PE address twice", head + "$POOL web\nweb PE 10.0.0.1,10.0.0.1:80\n", nil, `z.zone:7:8: address 10.0.0.1 is given twice in "10.0.0.1,10.0.0.1:80"; want each address of an element once`},
	{"PE port 0", head + "$POOL web\nweb PE 10.0.0.1:0\n", nil, `z.zone:7:17: bad PE port "0" in "10.0.0.1:0"; want a port from 1 to 65535`},
	{"PE port too large", head + "$POOL web\nweb PE [2001:db8::1]:65536\n", nil, `z.zone:7:22: bad PE port "65536" in "[2001:db8::1]:65536"; want a port from 1 to 65535`},
	{"PE port by name", head + "$POOL web\nweb PE 10.0.0.1:http\n", nil, `z.zone:7:17: bad PE port "http" in "10.0.0.1:http"; want a port from 1 to 65535`},
	{"PE unknown key", head + "$POOL web\nweb PE 10.0.0.1:80 wieght=1\n", nil, `z.zone:7:20: unknown PE key "wieght"; want one of weight, prio, load, loaddeg, site, name, transport, probe, interval, timeout, rise, fall, jitter`},
	{"PE argument without =", head + "$POOL web\nweb PE 10.0.0.1:80 10.0.0.2:80\n", nil, `z.zone:7:20: bad PE argument "10.0.0.2:80"; want key=value`},
	{"PE key twice", head + "$POOL web\nweb PE 10.0.0.1:80 site=a site=b\n", nil, `z.zone:7:27: key site given twice (first at column 20); want each key at most once`},
	{"weight negative", head + "$POOL web\nweb PE 10.0.0.1:80 weight=-1\n", nil, `z.zone:7:27: bad weight "-1"; want a whole number from 0 to 4294967295`},
	{"weight too large", head + "$POOL web\nweb PE 10.0.0.1:80 weight=4294967296\n", nil, `z.zone:7:27: bad weight "4294967296"; want a whole number from 0 to 4294967295`},
	{"prio fraction", head + "$POOL web\nweb PE 10.0.0.1:80 prio=1.5\n", nil, `z.zone:7:25: bad prio "1.5"; want a whole number from 0 to 4294967295`},
	{"load above 1", head + "$POOL web\nweb PE 10.0.0.1:80 load=1.5\n", nil, `z.zone:7:25: bad load "1.5"; want a fraction from 0 to 1 or a percentage such as 35%`},
	{"load above 100%", head + "$POOL web\nweb PE 10.0.0.1:80 load=101%\n", nil, `z.zone:7:25: bad load "101%"; want a fraction from 0 to 1 or a percentage such as 35%`},
	{"load NaN", head + "$POOL web\nweb PE 10.0.0.1:80 load=NaN\n", nil, `z.zone:7:25: bad load "NaN"; want a fraction from 0 to 1 or a percentage such as 35%`},
	{"loaddeg negative", head + "$POOL web\nweb PE 10.0.0.1:80 loaddeg=-0.1\n", nil, `z.zone:7:28: bad loaddeg "-0.1"; want a fraction from 0 to 1 or a percentage such as 35%`},
	{"site", head + "$POOL web\nweb PE 10.0.0.1:80 site=fr@\n", nil, `z.zone:7:25: bad site "fr@"; want one word of letters, digits, ., - and _`},
	{"name with a dot", head + "$POOL web\nweb PE 10.0.0.1:80 name=a.b\n", nil, `z.zone:7:25: bad name "a.b"; want one DNS label of letters, digits and - (not first or last), at most 63 long`},
	{"name with _", head + "$POOL web\nweb PE 10.0.0.1:80 name=_a\n", nil, `z.zone:7:25: bad name "_a"; want one DNS label of letters, digits and - (not first or last), at most 63 long`},
	{"name too long", head + "$POOL web\nweb PE 10.0.0.1:80 name=" + strings.Repeat("a", 64) + "\n", nil,
		`z.zone:7:25: bad name "` + strings.Repeat("a", 64) + `"; want one DNS label of letters, digits and - (not first or last), at most 63 long`},
	{"transport", head + "$POOL web\nweb PE 10.0.0.1:80 transport=quic\n", nil, `z.zone:7:30: unknown transport "quic"; want tcp, udp or sctp`},
	{"same element twice", head + "$POOL web\nweb PE 10.0.0.1:80\nweb PE 10.0.0.1:80 name=other\n", nil,
		`z.zone:8:8: element 10.0.0.1:80 (id ` + idOf("10.0.0.1", 80) + `, from its first address and port) is already in pool web at line 7; want each first ADDR:PORT once per pool`},
	{"same first address and port", head + "$POOL web\nweb PE 10.0.0.1,10.0.0.2:80\n  PE 10.0.0.1,10.0.0.3:80\n", nil,
		`z.zone:8:6: element 10.0.0.1,10.0.0.3:80 (id ` + idOf("10.0.0.1", 80) + `, from its first address and port) is already in pool web at line 7; want each first ADDR:PORT once per pool`},
	{"same element across include", head + "$POOL web\n$INCLUDE p.inc\nweb PE 10.0.0.1:80\n", []string{"p.inc", "web PE 10.0.0.1:80\n"},
		`z.zone:8:8: element 10.0.0.1:80 (id ` + idOf("10.0.0.1", 80) + `, from its first address and port) is already in pool web at p.inc:1; want each first ADDR:PORT once per pool`},
	{"same name twice", head + "$POOL web\nweb PE 10.0.0.1:80 name=a\nweb PE 10.0.0.2:80 name=A\n", nil,
		`z.zone:8:25: element name a is already used in pool web at line 7; want a name= of its own for each element`},
	{"name of another's identifier", head + "$POOL web\nweb PE 10.0.0.1:80\nweb PE 10.0.0.2:80 name=" + idOf("10.0.0.1", 80) + "\n", nil,
		`z.zone:8:25: element name ` + idOf("10.0.0.1", 80) + ` is already used in pool web at line 7; want a name= of its own for each element`},
	{"identifier of another's name", head + "$POOL web\nweb PE 10.0.0.2:80 name=" + idOf("10.0.0.1", 80) + "\nweb PE 10.0.0.1:80\n", nil,
		`z.zone:8:8: element name ` + idOf("10.0.0.1", 80) + ` is already used in pool web at line 7; want a name= of its own for each element`},
}

func TestParseErrors(t *testing.T) {
	for _, tt := range errorCases {
		t.Run(tt.name, func(t *testing.T) {
			fsys := mapFS(append([]string{"z.zone", tt.src}, tt.more...)...)
			def, err := Parse(fsys, "z.zone")
			if err == nil {
				t.Fatalf("no error, want %s\nzone: %+v", tt.want, def)
			}
			if err.Error() != tt.want {
				t.Errorf("error\n got %s\nwant %s", err, tt.want)
			}
		})
	}
}

// TestHeadParses checks that the start that the error cases share is a
// good zone, so that each case fails for its own mistake.
func TestHeadParses(t *testing.T) {
	mustParse(t, fstest.MapFS{"z.zone": {Data: []byte(head)}})
	mustParse(t, fstest.MapFS{"z.zone": {Data: []byte(head + "$POOL web\nweb PE 10.0.0.1:80\n")}})
}
