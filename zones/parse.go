package zones

import (
	"errors"
	"io/fs"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/miekg/dns"
	"github.com/poolnsd/poolnsd/handlespace"
)

// MaxIncludeDepth is how deep $INCLUDE directives may nest: a zone file
// may include a file that includes another, and so on, this many levels.
const MaxIncludeDepth = 8

// result is a parsed zone file with what the checks across files need.
type result struct {
	def   handlespace.ZoneDef
	soa   pos            // of the SOA record
	pools map[string]pos // of each $POOL, by the pool's name (FQDN)
}

// parser holds the state of one zone file and the files it includes.
type parser struct {
	fsys    fs.FS
	display func(fsPath string) string // names an included file in messages

	def    handlespace.ZoneDef
	origin string // the zone's origin, lower case; "" until the SOA record
	soa    pos
	hasNS  bool
	pools  map[string]*poolState // by handle
	// under maps the first label under the origin (decoded, lower case) of
	// every static name to the first record at or under it: the names a
	// pool may not take.
	under map[string]pos
	names map[string]*nameState // static names (lower case), for the CNAME rule
	stack []string              // fs paths of the files being read, outermost first
	buf   []byte                // for packing records
}

// frame is the state that a file has and its includes inherit, but that
// does not flow back out of an included file.
type frame struct {
	file    string // display name
	origin  string // $ORIGIN, absolute, as written; "" when none
	ttl     uint32 // $TTL
	hasTTL  bool
	last    uint32 // the last TTL written in a record
	hasLast bool
	owner   string // the previous owner name, absolute; "" when none
}

type nameState struct {
	cname, other pos // first CNAME and first other record; file "" when none
}

func parse(fsys fs.FS, fsName, display string, name func(string) string) (*result, error) {
	p := &parser{
		fsys:    fsys,
		display: name,
		pools:   map[string]*poolState{},
		under:   map[string]pos{},
		names:   map[string]*nameState{},
	}
	p.def.File = display
	end, err := p.file(fsName, frame{file: display}, nil)
	if err != nil {
		return nil, err
	}
	if p.origin == "" {
		return nil, errf(end, "no SOA record; want one SOA record, at the zone's origin, before any other record")
	}
	if !p.hasNS {
		return nil, errf(p.soa, "no NS record at the zone's origin %s; want at least one", p.origin)
	}
	r := &result{def: p.def, soa: p.soa, pools: make(map[string]pos, len(p.pools))}
	for h, ps := range p.pools {
		r.pools[h+"."+p.origin] = ps.pos
	}
	return r, nil
}

// file reads one file: the top one (inc nil) or one that an $INCLUDE at
// inc names. It returns the position of the end of the file.
func (p *parser) file(fsPath string, f frame, inc *token) (pos, *Error) {
	data, err := fs.ReadFile(p.fsys, fsPath)
	if err != nil {
		reason := err.Error()
		var pe *fs.PathError
		if errors.As(err, &pe) {
			reason = pe.Err.Error()
		}
		if inc == nil {
			return pos{}, &Error{File: f.file, Msg: "cannot read the file: " + reason + "; want a readable zone file"}
		}
		return pos{}, errf(inc.pos, "cannot read $INCLUDE file %q: %s; want a readable file in the zones directory", inc.val, reason)
	}
	p.stack = append(p.stack, fsPath)
	defer func() { p.stack = p.stack[:len(p.stack)-1] }()
	lx := newLexer(string(data), f.file)
	for lx.Next() {
		if err := p.entry(&f, lx.Entry()); err != nil {
			return pos{}, err
		}
	}
	if err := lx.Err(); err != nil {
		return pos{}, err
	}
	return lx.eofPos(), nil
}

// entry handles one entry: a directive, a PE or an ordinary record.
func (p *parser) entry(f *frame, e entry) *Error {
	toks := e.toks
	if strings.HasPrefix(toks[0].raw, "$") {
		return p.directive(f, toks)
	}
	first := toks[0]
	var owner string
	if e.blank {
		if f.owner == "" {
			return errf(first.pos, "no owner name and no previous one; want an owner name at the start of the line")
		}
		owner = f.owner
	} else {
		var err *Error
		if owner, err = absName(first, f.origin); err != nil {
			return err
		}
		toks = toks[1:]
	}
	// [TTL] [class] in either order, then the type.
	var ttl uint32
	var hasTTL, hasClass bool
	for len(toks) > 0 && !toks[0].quoted {
		t := toks[0]
		if !hasTTL && isDigit(t.raw[0]) {
			v, ok := parseTTL(t.raw)
			if !ok {
				return errf(t.pos, "bad TTL %q; want seconds (at most %d) or a duration such as 5s, 1m or 1h30m", t.raw, maxTTL)
			}
			ttl, hasTTL = v, true
			toks = toks[1:]
			continue
		}
		if !hasClass {
			if c, ok := classOf(t.raw); ok {
				if c != dns.ClassINET {
					return errf(t.pos, "class %s is not served; want IN", strings.ToUpper(t.raw))
				}
				hasClass = true
				toks = toks[1:]
				continue
			}
		}
		break
	}
	if len(toks) == 0 {
		last := e.toks[len(e.toks)-1]
		return errf(last.pos, "missing record type after %q; want a type such as A, AAAA, NS, TXT, SRV or PE", last.raw)
	}
	typTok := toks[0]
	typ := strings.ToUpper(typTok.raw)
	if typ == "PE" && !typTok.quoted {
		if err := p.element(owner, first, typTok, toks[1:]); err != nil {
			return err
		}
		f.owner = owner
		return nil
	}
	rtype, ok := recordType(typ)
	if !ok || typTok.quoted {
		return errf(typTok.pos, "unknown record type %q; want a type such as A, AAAA, NS, TXT, SRV or PE", typTok.raw)
	}
	if metaType(rtype) {
		return errf(typTok.pos, "record type %s cannot be written in a zone; want a data type such as A, AAAA, TXT or SRV", typ)
	}
	if !hasTTL {
		switch {
		case f.hasTTL:
			ttl = f.ttl
		case f.hasLast:
			ttl = f.last
		default:
			return errf(first.pos, "no TTL for this record; want a $TTL directive before it or a TTL in the record")
		}
	} else if !f.hasTTL {
		f.last, f.hasLast = ttl, true
	}
	if err := p.record(f, owner, first, typTok, typ, ttl, toks[1:]); err != nil {
		return err
	}
	f.owner = owner
	return nil
}

// part is a piece of the record text handed to miekg/dns, with the place
// in the zone file that it comes from.
type part struct {
	start, end int // in the text
	tok        token
}

// record parses an ordinary record with miekg/dns and checks where it
// stands in the zone.
func (p *parser) record(f *frame, owner string, first, typTok token, typ string, ttl uint32, rdata []token) *Error {
	if len(rdata) == 0 {
		return errf(typTok.pos, "%s record without data; want %s", typ, rdataHint(typ))
	}
	if typ == "SOA" && len(rdata) < 7 {
		// miekg/dns takes a SOA without its last fields (as in UPDATE).
		return errf(rdata[len(rdata)-1].pos, "bad SOA record: the data ends after %d of its 7 fields; want %s", len(rdata), rdataHint(typ))
	}
	// The record as one line: absolute owner, TTL and class written out,
	// the data as written.
	var b strings.Builder
	var parts []part
	add := func(s string, t token) {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		parts = append(parts, part{b.Len(), b.Len() + len(s), t})
		b.WriteString(s)
	}
	add(owner, first)
	add(strconv.FormatUint(uint64(ttl), 10), first)
	add("IN", first)
	add(typ, typTok)
	for _, t := range rdata {
		add(t.raw, t)
	}
	zp := dns.NewZoneParser(strings.NewReader(b.String()), f.origin, "")
	rr, ok := zp.Next()
	if !ok {
		return p.dnsError(zp.Err(), typ, typTok, parts)
	}
	if _, more := zp.Next(); more {
		// Cannot happen: the text is one line. Be safe.
		return errf(typTok.pos, "bad %s record: more than one record in one line; want one record per line", typ)
	}
	if p.buf == nil {
		p.buf = make([]byte, dns.MaxMsgSize)
	}
	// Encode and decode the record: miekg/dns does not check everything
	// when it parses (a relative name made absolute may exceed 255 octets).
	n, err := dns.PackRR(rr, p.buf, 0, nil, false)
	if err == nil {
		_, _, err = dns.UnpackRR(p.buf[:n], 0)
	}
	if err != nil {
		msg := err.Error()
		if i := strings.LastIndex(msg, ": "); i >= 0 {
			msg = msg[i+2:] // "CNAME.Target: dns: domain name exceeded …"
		}
		return errf(rdata[0].pos, "bad %s record: %s; want %s", typ, msg, rdataHint(typ))
	}
	hdr := rr.Header()
	name := strings.ToLower(hdr.Name)
	at := first.pos
	if p.origin == "" {
		if hdr.Rrtype != dns.TypeSOA {
			return errf(at, "%s record before the SOA record; want the SOA record first: its owner names the zone", typ)
		}
		if name == "." {
			return errf(at, "SOA record at the root; want a zone below the root such as pool.example.")
		}
		p.origin, p.soa = name, at
		p.def.Origin = name
	} else if hdr.Rrtype == dns.TypeSOA {
		return errf(at, "second SOA record (the first is at %s); want exactly one SOA record per file, at the zone's origin", p.soa.ref(at.file))
	}
	if !dns.IsSubDomain(p.origin, name) {
		return errf(at, "record %s is outside the zone %s; want names at or under the zone's origin", hdr.Name, p.origin)
	}
	if lbl, ok := labelUnder(name, p.origin); ok {
		if ps := p.pools[lbl]; ps != nil {
			return errf(at, "%s record at %s, a name of pool %s (%s); want static records outside the names of pools", typ, hdr.Name, lbl, ps.pos.ref(at.file))
		}
		if _, seen := p.under[lbl]; !seen {
			p.under[lbl] = at
		}
	}
	if hdr.Rrtype == dns.TypeNS && name == p.origin {
		p.hasNS = true
	}
	if err := p.cnameRule(name, hdr, typ, at); err != nil {
		return err
	}
	p.def.Records = append(p.def.Records, rr)
	return nil
}

// cnameRule enforces RFC 1034 §3.6.2: a name with a CNAME has no other data.
func (p *parser) cnameRule(name string, hdr *dns.RR_Header, typ string, at pos) *Error {
	if hdr.Rrtype == dns.TypeRRSIG || hdr.Rrtype == dns.TypeNSEC {
		return nil
	}
	ns := p.names[name]
	if ns == nil {
		ns = &nameState{}
		p.names[name] = ns
	}
	if hdr.Rrtype == dns.TypeCNAME {
		switch {
		case ns.cname.file != "":
			return errf(at, "second CNAME record at %s (the first is at %s); want one CNAME per name", hdr.Name, ns.cname.ref(at.file))
		case ns.other.file != "":
			return errf(at, "CNAME record at %s beside other records (%s); want a CNAME alone at its name", hdr.Name, ns.other.ref(at.file))
		}
		ns.cname = at
		return nil
	}
	if ns.cname.file != "" {
		return errf(at, "%s record at %s beside its CNAME record (%s); want a CNAME alone at its name", typ, hdr.Name, ns.cname.ref(at.file))
	}
	if ns.other.file == "" {
		ns.other = at
	}
	return nil
}

// parseErrRE takes apart the text of a miekg/dns ParseError, whose fields
// are not exported: "dns: MESSAGE: "TOKEN" at line: L:C".
var parseErrRE = regexp.MustCompile(`^dns: (.*): ("(?:[^"\\]|\\.)*") at line: \d+:(\d+)$`)

// dnsError re-wraps a miekg/dns error about the record text with the
// place in the zone file that the offending token comes from.
func (p *parser) dnsError(err error, typ string, typTok token, parts []part) *Error {
	if err == nil {
		return errf(typTok.pos, "bad %s record; want %s", typ, rdataHint(typ))
	}
	m := parseErrRE.FindStringSubmatch(err.Error())
	if m == nil {
		return errf(typTok.pos, "bad %s record: %s; want %s", typ, strings.TrimPrefix(err.Error(), "dns: "), rdataHint(typ))
	}
	msg := m[1]
	tok, _ := strconv.Unquote(m[2])
	col, _ := strconv.Atoi(m[3])
	at := typTok.pos
	if strings.TrimSpace(tok) == "" {
		// The data ended too early: point at its last token.
		at = parts[len(parts)-1].tok.pos
		return errf(at, "bad %s record: %s, the data ends too early; want %s", typ, msg, rdataHint(typ))
	}
	// The part that holds the token; miekg's column is near its end.
	best := -1
	for i, pt := range parts {
		if i < 3 {
			continue // owner, TTL and class are written out by record
		}
		if strings.Contains(pt.tok.raw, tok) || strings.Contains(pt.tok.val, tok) {
			if best < 0 || abs(pt.end-col) < abs(parts[best].end-col) {
				best = i
			}
		}
	}
	if best < 0 {
		for i, pt := range parts {
			if pt.start < col {
				best = i
			}
		}
	}
	if best >= 0 {
		at = parts[best].tok.pos
	}
	return errf(at, "bad %s record: %s %q; want %s", typ, msg, tok, rdataHint(typ))
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// rdataHint says what the data of a record of type typ looks like.
func rdataHint(typ string) string {
	switch typ {
	case "A":
		return "an IPv4 address"
	case "AAAA":
		return "an IPv6 address"
	case "NS", "CNAME", "PTR", "DNAME":
		return "a domain name"
	case "MX":
		return "PREFERENCE EXCHANGE"
	case "TXT", "SPF":
		return "one or more strings"
	case "SRV":
		return "PRIORITY WEIGHT PORT TARGET"
	case "SOA":
		return "MNAME RNAME SERIAL REFRESH RETRY EXPIRE MINIMUM"
	case "CAA":
		return `FLAGS TAG "VALUE"`
	case "URI":
		return `PRIORITY WEIGHT "TARGET"`
	case "HINFO":
		return "CPU OS"
	case "NAPTR":
		return "ORDER PREFERENCE FLAGS SERVICES REGEXP REPLACEMENT"
	case "SSHFP":
		return "ALGORITHM TYPE FINGERPRINT"
	case "TLSA":
		return "USAGE SELECTOR MATCHING-TYPE DATA"
	case "SVCB", "HTTPS":
		return "PRIORITY TARGET [KEY=VALUE ...]"
	}
	return typ + " data as RFC 1035 master files write it"
}

// directive handles $ORIGIN, $TTL, $INCLUDE and $POOL.
func (p *parser) directive(f *frame, toks []token) *Error {
	d, args := toks[0], toks[1:]
	switch strings.ToUpper(d.raw) {
	case "$ORIGIN":
		if len(args) != 1 {
			return errf(d.pos, "$ORIGIN takes one name; want $ORIGIN NAME")
		}
		o, err := absName(args[0], f.origin)
		if err != nil {
			return err
		}
		f.origin = o
	case "$TTL":
		if len(args) != 1 {
			return errf(d.pos, "$TTL takes one TTL; want $TTL SECONDS, such as $TTL 300 or $TTL 1h")
		}
		v, ok := parseTTL(args[0].val)
		if !ok || args[0].quoted {
			return errf(args[0].pos, "bad TTL %q; want seconds (at most %d) or a duration such as 5s, 1m or 1h30m", args[0].raw, maxTTL)
		}
		f.ttl, f.hasTTL = v, true
	case "$INCLUDE":
		return p.include(f, d, args)
	case "$POOL":
		return p.pool(f, d, args)
	default:
		return errf(d.pos, "unknown directive %q; want $ORIGIN, $TTL, $INCLUDE or $POOL", d.raw)
	}
	return nil
}

// include reads the file that an $INCLUDE names. The included file starts
// with the including file's $ORIGIN (or the one the directive gives), $TTL
// and last TTL, and without a previous owner; what it changes of these
// stays inside it (RFC 1035 §5.1).
func (p *parser) include(f *frame, d token, args []token) *Error {
	if len(args) < 1 || len(args) > 2 {
		return errf(d.pos, "$INCLUDE takes a file name and an optional origin; want $INCLUDE FILE [ORIGIN]")
	}
	path := args[0].val
	if !fs.ValidPath(path) || path == "." {
		return errf(args[0].pos, "$INCLUDE path %q is not inside the zones directory; want a relative path such as inc/web.inc, without .. or a leading /", path)
	}
	child := *f
	child.file = p.display(path)
	child.owner = ""
	if len(args) == 2 {
		o, err := absName(args[1], f.origin)
		if err != nil {
			return err
		}
		child.origin = o
	}
	if slices.Contains(p.stack, path) {
		var chain []string
		for i := slices.Index(p.stack, path); i < len(p.stack); i++ {
			chain = append(chain, p.stackName(i))
		}
		chain = append(chain, chain[0])
		return errf(args[0].pos, "$INCLUDE loop: %s; want no file to include itself", strings.Join(chain, " includes "))
	}
	if len(p.stack) > MaxIncludeDepth {
		return errf(d.pos, "$INCLUDE nested more than %d deep; want at most %d levels of $INCLUDE", MaxIncludeDepth, MaxIncludeDepth)
	}
	_, err := p.file(path, child, &args[0])
	return err
}

// stackName names the file at index i of the stack: the top file by the
// name the caller gave it, included ones by their display name.
func (p *parser) stackName(i int) string {
	if i == 0 {
		return p.def.File
	}
	return p.display(p.stack[i])
}

// absName makes the name in t absolute: "@" is origin, a name that does
// not end in a dot is relative to origin.
func absName(t token, origin string) (string, *Error) {
	s := t.raw
	if t.quoted {
		return "", errf(t.pos, "bad name %q; want a domain name, not a quoted string", t.val)
	}
	var n string
	switch {
	case s == "@":
		if origin == "" {
			return "", errf(t.pos, "\"@\" with no $ORIGIN; want $ORIGIN before it or an absolute name ending in a dot")
		}
		n = origin
	case dns.IsFqdn(s):
		n = s
	case origin == "":
		return "", errf(t.pos, "relative name %q with no $ORIGIN; want $ORIGIN before it or an absolute name ending in a dot", s)
	case origin == ".":
		n = s + "."
	default:
		n = s + "." + origin
	}
	if _, ok := dns.IsDomainName(n); !ok {
		return "", errf(t.pos, "bad name %q; want a domain name such as www or www.pool.example.", s)
	}
	return n, nil
}

// labelUnder returns the first label of name below origin (both lower
// case, name at or under origin), decoded: "web" for x.w\101b.pool.example.
// in pool.example.; ok is false for the origin itself.
func labelUnder(name, origin string) (string, bool) {
	if len(name) <= len(origin) || !dns.IsSubDomain(origin, name) {
		return "", false
	}
	rel := name[:len(name)-len(origin)]
	if origin == "." {
		rel = name
	}
	rel = strings.TrimSuffix(rel, ".")
	// The last label of rel, honouring escapes.
	start, i := 0, 0
	for i < len(rel) {
		switch rel[i] {
		case '\\':
			i += 2
			continue
		case '.':
			start = i + 1
		}
		i++
	}
	return decodeLabel(rel[start:]), true
}

// childLabel returns the label of name if name is exactly one label under
// origin (both absolute, lower case).
func childLabel(name, origin string) (raw string, ok bool) {
	if _, ok := labelUnder(name, origin); !ok {
		return "", false
	}
	rel := strings.TrimSuffix(name[:len(name)-len(origin)], ".")
	if origin == "." {
		rel = strings.TrimSuffix(name, ".")
	}
	if rel == "" || hasUnescapedDot(rel) {
		return "", false
	}
	return rel, true
}

func hasUnescapedDot(s string) bool {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '.':
			return true
		}
	}
	return false
}

// decodeLabel resolves the escapes of a label in presentation format and
// lower-cases it.
func decodeLabel(s string) string {
	if !strings.Contains(s, `\`) {
		return strings.ToLower(s)
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\\' && i+1 < len(s) {
			if i+3 < len(s) && isDigit(s[i+1]) && isDigit(s[i+2]) && isDigit(s[i+3]) {
				n := int(s[i+1]-'0')*100 + int(s[i+2]-'0')*10 + int(s[i+3]-'0')
				b.WriteByte(byte(n))
				i += 3
				continue
			}
			i++
			c = s[i]
		}
		b.WriteByte(c)
	}
	return strings.ToLower(b.String())
}

// classOf recognises a class: IN, CH, HS, CS, NONE, ANY or CLASSnnn.
func classOf(s string) (uint16, bool) {
	u := strings.ToUpper(s)
	if c, ok := dns.StringToClass[u]; ok {
		return c, true
	}
	if rest, ok := strings.CutPrefix(u, "CLASS"); ok && rest != "" {
		if v, err := strconv.ParseUint(rest, 10, 16); err == nil {
			return uint16(v), true
		}
	}
	return 0, false
}

// recordType recognises a record type by name or as TYPEnnn (RFC 3597).
func recordType(u string) (uint16, bool) {
	if t, ok := dns.StringToType[u]; ok {
		return t, true
	}
	if rest, ok := strings.CutPrefix(u, "TYPE"); ok && rest != "" {
		if v, err := strconv.ParseUint(rest, 10, 16); err == nil {
			return uint16(v), true
		}
	}
	return 0, false
}

// metaType reports types that are not data: they exist only in messages.
func metaType(t uint16) bool {
	switch t {
	case dns.TypeNone, dns.TypeOPT, dns.TypeTSIG, dns.TypeTKEY, dns.TypeIXFR, dns.TypeAXFR,
		dns.TypeMAILA, dns.TypeMAILB, dns.TypeANY, dns.TypeReserved:
		return true
	}
	return false
}
