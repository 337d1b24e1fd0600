package zones

import (
	"math"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/poolnsd/poolnsd/handlespace"
	_ "github.com/poolnsd/poolnsd/handlespace/policy" // the policies register themselves
	"github.com/poolnsd/poolnsd/probe/probespec"
)

// Defaults of the $POOL keys that handlespace.DefaultPoolSpec does not
// give, and bounds.
const (
	DefaultInterval = time.Second            // probe interval
	MinInterval     = 100 * time.Millisecond // shortest probe interval
	DefaultTimeout  = 500 * time.Millisecond // probe timeout, < interval
	DefaultRise     = 2                      // successes in a row to become up
	DefaultFall     = 2                      // failures in a row to become down
	DefaultJitter   = 0.1                    // probe delays shortened by up to 10 %
	MaxJitter       = 0.5                    // jitter= upper bound
	DefaultWeight   = 1                      // PE weight=
	MaxAnswers      = 1000                   // answers= upper bound

	maxTTL = math.MaxInt32 // RFC 2181 §8
)

// poolKeys and peKeys list the keys, in the order messages name them.
var (
	poolKeys = []string{"policy", "dpf", "distancestep", "service", "ttl", "answers", "alldown", "uri", "https", "naptr", "probe", "interval", "timeout", "rise", "fall", "jitter"}
	peKeys   = []string{"weight", "prio", "load", "loaddeg", "site", "name", "transport", "probe", "interval", "timeout", "rise", "fall", "jitter"}
)

// poolState is a pool of the file being parsed.
type poolState struct {
	idx    int // in def.Pools
	pos    pos // of the $POOL directive
	ids    map[uint32]pos
	labels map[string]pos
}

// kv is one key=value argument.
type kv struct {
	key, val string
	tok      token
	valPos   pos
}

// at returns the position of byte i of the value.
func (a *kv) at(i int) pos { return a.tok.posOf(len(a.key) + 1 + i) }

// keyValues splits key=value arguments, rejecting unknown and repeated
// keys. what names the line's kind in messages ("$POOL", "PE").
func keyValues(args []token, what string, known []string) ([]kv, *Error) {
	out := make([]kv, 0, len(args))
	seen := map[string]pos{}
	for _, t := range args {
		k, v, ok := strings.Cut(t.val, "=")
		if !ok || k == "" {
			return nil, errf(t.pos, "bad %s argument %q; want key=value", what, t.raw)
		}
		if !slices.Contains(known, k) {
			return nil, errf(t.pos, "unknown %s key %q; want one of %s", what, k, strings.Join(known, ", "))
		}
		if prev, dup := seen[k]; dup {
			return nil, errf(t.pos, "key %s given twice (first at column %d); want each key at most once", k, prev.col)
		}
		seen[k] = t.pos
		a := kv{key: k, val: v, tok: t}
		a.valPos = a.at(0)
		out = append(out, a)
	}
	return out, nil
}

// pool handles "$POOL HANDLE key=value ...".
func (p *parser) pool(f *frame, d token, args []token) *Error {
	if p.origin == "" {
		return errf(d.pos, "$POOL before the SOA record; want the SOA record first: its owner names the zone")
	}
	if len(args) == 0 {
		return errf(d.pos, "$POOL without a pool handle; want $POOL HANDLE key=value ...")
	}
	ht := args[0]
	if strings.Contains(ht.val, "=") {
		return errf(ht.pos, "$POOL without a pool handle; want $POOL HANDLE key=value ..., not %q first", ht.raw)
	}
	name, err := absName(ht, f.origin)
	if err != nil {
		return err
	}
	name = strings.ToLower(name)
	handle, ok := childLabel(name, p.origin)
	if !ok {
		return errf(ht.pos, "pool %s is not directly under the zone's origin %s; want a handle of one label under it", name, p.origin)
	}
	if !handleRE.MatchString(handle) {
		return errf(ht.pos, "bad pool handle %q; want one label of letters, digits, - and _", handle)
	}
	if err := handlespace.CheckLabel(handle); err != nil {
		return errf(ht.pos, "bad pool handle: %v", err)
	}
	if err := handlespace.CheckPoolName(name); err != nil {
		return errf(ht.pos, "bad pool name: %v", err)
	}
	if ps := p.pools[handle]; ps != nil {
		return errf(ht.pos, "pool %s is already defined at %s; want one $POOL per pool", handle, ps.pos.ref(ht.pos.file))
	}
	if at, taken := p.under[handle]; taken {
		return errf(ht.pos, "pool %s: the name %s already has static records (%s); want a pool's names to be its own", handle, name, at.ref(ht.pos.file))
	}
	spec, err := poolSpec(args[1:], name)
	if err != nil {
		return err
	}
	p.pools[handle] = &poolState{idx: len(p.def.Pools), pos: d.pos, ids: map[uint32]pos{}, labels: map[string]pos{}}
	p.def.Pools = append(p.def.Pools, handlespace.PoolDef{Handle: handle, Spec: spec, Line: d.pos.line})
	f.owner = name // a blank owner after $POOL is the pool
	return nil
}

var (
	handleRE  = regexp.MustCompile(`^[a-z0-9_-]{1,63}$`)
	serviceRE = regexp.MustCompile(`^_[a-z0-9-]{1,62}\._[a-z0-9-]{1,62}$`)
	labelRE   = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	siteRE    = regexp.MustCompile(`^[a-z0-9._-]{1,63}$`)
	numberRE  = regexp.MustCompile(`^[0-9]+$`)
	bindTTLRE = regexp.MustCompile(`^([0-9]+[smhdwSMHDW])+$`)
	fracRE    = regexp.MustCompile(`^([0-9]+(\.[0-9]*)?|\.[0-9]+)%?$`)
)

// poolSpec reads the keys of a $POOL directive of pool name.
func poolSpec(args []token, name string) (handlespace.PoolSpec, *Error) {
	spec := handlespace.DefaultPoolSpec()
	spec.Probe = handlespace.ProbeSpec{Interval: DefaultInterval, Timeout: DefaultTimeout, Rise: DefaultRise, Fall: DefaultFall, Jitter: DefaultJitter}
	kvs, err := keyValues(args, "$POOL", poolKeys)
	if err != nil {
		return spec, err
	}
	var uriKV, naptrKV, intervalKV, timeoutKV, distKV *kv
	for i := range kvs {
		a := &kvs[i]
		v, at := a.val, a.valPos
		switch a.key {
		case "policy":
			if _, err := handlespace.NewPolicy(v, nil); err != nil {
				return spec, errf(at, "%s", err.Error())
			}
			spec.Policy = v
		case "dpf":
			f, ok := parseFraction(v)
			if !ok || handlespace.LoadFromFraction(f) == 0 {
				return spec, errf(at, "bad dpf %q; want the load each millisecond of distance adds: a fraction above 0 up to 1 or a percentage up to 100%% such as 0.1%% (without a penalty, use the policy without -dpf)", v)
			}
			spec.DPF = handlespace.LoadFromFraction(f)
			distKV = a
		case "distancestep":
			d, err := time.ParseDuration(v)
			if err != nil || d < time.Millisecond || d > handlespace.MaxDistanceStep || d%time.Millisecond != 0 {
				return spec, errf(at, "bad distancestep %q; want whole milliseconds from 1ms to %v such as 50ms", v, handlespace.MaxDistanceStep)
			}
			spec.DistanceStep = d
			if distKV == nil {
				distKV = a
			}
		case "service":
			s := strings.ToLower(v)
			if !serviceRE.MatchString(s) {
				return spec, errf(at, "bad service %q; want two labels such as _http._tcp, each starting with _", v)
			}
			spec.Service = s
		case "ttl":
			t, ok := parseTTL(v)
			if !ok {
				return spec, errf(at, "bad ttl %q; want seconds or a duration such as 5s or 1m, at most %d seconds", v, maxTTL)
			}
			spec.TTL = t
		case "answers":
			n, err := strconv.Atoi(v)
			if err != nil || !numberRE.MatchString(v) || n < 1 || n > MaxAnswers {
				return spec, errf(at, "bad answers %q; want a number from 1 to %d", v, MaxAnswers)
			}
			spec.Answers = n
		case "alldown":
			switch v {
			case "none":
				spec.AllDown = handlespace.AllDownNone
			case "all":
				spec.AllDown = handlespace.AllDownAll
			default:
				return spec, errf(at, "bad alldown %q; want none or all", v)
			}
		case "uri":
			if err := checkURI(v, a.at); err != nil {
				return spec, err
			}
			spec.URI = v
			uriKV = a
		case "https":
			if err := checkALPN(v, a.at); err != nil {
				return spec, err
			}
			spec.HTTPS = v
		case "naptr":
			if err := checkNAPTR(v, a.at); err != nil {
				return spec, err
			}
			spec.NAPTR = v
			naptrKV = a
		case "probe", "interval", "timeout", "rise", "fall", "jitter":
			if err := probeKey(&spec.Probe, a, &intervalKV, &timeoutKV); err != nil {
				return spec, err
			}
		}
	}
	if err := checkProbeTiming(spec.Probe, intervalKV, timeoutKV); err != nil {
		return spec, err
	}
	if distKV != nil && !handlespace.DistancePolicy(spec.Policy) {
		return spec, errf(distKV.tok.pos, "%s with policy %s, which does not weigh distance; want a distance-penalty policy (%s) or no %s", distKV.key, spec.Policy, strings.Join(distancePolicies(), ", "), distKV.key)
	}
	if uriKV != nil && spec.Service == "" {
		return spec, errf(uriKV.tok.pos, "uri without service; want service=_svc._proto too, the name of the URI records")
	}
	if naptrKV != nil && uriKV != nil {
		if err := checkUNAPTRFit(spec.URI, name, uriKV); err != nil {
			return spec, err
		}
	}
	return spec, nil
}

// distancePolicies lists the distance-penalty policies, sorted.
func distancePolicies() []string {
	var out []string
	for _, n := range handlespace.PolicyNames() {
		if handlespace.DistancePolicy(n) {
			out = append(out, n)
		}
	}
	return out
}

// probeKey reads one probe key (probe, interval, timeout, rise, fall,
// jitter) of a
// $POOL directive or of a PE line (an override) into ps.
func probeKey(ps *handlespace.ProbeSpec, a *kv, intervalKV, timeoutKV **kv) *Error {
	v, at := a.val, a.valPos
	switch a.key {
	case "probe":
		kind, target, err := probe(v, a.at)
		if err != nil {
			return err
		}
		ps.Kind, ps.Target = kind, target
	case "interval":
		d, err := time.ParseDuration(v)
		if err != nil || d < MinInterval {
			return errf(at, "bad interval %q; want a duration of at least %v such as 1s", v, MinInterval)
		}
		ps.Interval = d
		*intervalKV = a
	case "timeout":
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return errf(at, "bad timeout %q; want a duration such as 500ms, shorter than the interval", v)
		}
		ps.Timeout = d
		*timeoutKV = a
	case "rise", "fall":
		n, err := strconv.Atoi(v)
		if err != nil || !numberRE.MatchString(v) || n < 1 || n > math.MaxInt32 {
			return errf(at, "bad %s %q; want a whole number of at least 1", a.key, v)
		}
		if a.key == "rise" {
			ps.Rise = n
		} else {
			ps.Fall = n
		}
	case "jitter":
		f, ok := parseFraction(v)
		if !ok || f > MaxJitter {
			return errf(at, "bad jitter %q; want a fraction from 0 to %v or a percentage up to %v%% such as 10%%", v, MaxJitter, MaxJitter*100)
		}
		ps.Jitter = f
	}
	return nil
}

// checkProbeTiming checks that the probe timeout is shorter than the
// interval, naming the key that was written.
func checkProbeTiming(ps handlespace.ProbeSpec, intervalKV, timeoutKV *kv) *Error {
	if ps.Timeout < ps.Interval {
		return nil
	}
	a := timeoutKV
	if a == nil {
		a = intervalKV
	}
	return errf(a.valPos, "probe timeout %v is not shorter than the interval %v; want timeout < interval", ps.Timeout, ps.Interval)
}

// checkURI checks a URI template: {name}, {addr} and {port} are its only
// placeholders, and with them filled in it is an absolute URI.
func checkURI(s string, at func(int) pos) *Error {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '{':
			j := strings.IndexByte(s[i:], '}')
			if j < 0 {
				return errf(at(i), "unclosed \"{\" in uri %q; want {name}, {addr} or {port}", s)
			}
			switch ph := s[i : i+j+1]; ph {
			case "{name}":
				b.WriteString("pe.web.pool.example")
			case "{addr}":
				b.WriteString("192.0.2.1")
			case "{port}":
				b.WriteString("80")
			default:
				return errf(at(i), "unknown placeholder %q in uri; want {name}, {addr} or {port}", ph)
			}
			i += j
		case c == '}':
			return errf(at(i), "unbalanced \"}\" in uri %q; want {name}, {addr} or {port}", s)
		case c <= ' ' || c == 0x7f || c == '"':
			return errf(at(i), "bad uri %q: white space, control characters and quotes are not allowed; want an absolute URI such as http://{name}:{port}/", s)
		default:
			b.WriteByte(c)
		}
	}
	u, err := url.Parse(b.String())
	if err != nil || u.Scheme == "" || len(s) > 4000 {
		return errf(at(0), "bad uri %q; want an absolute URI such as http://{name}:{port}/", s)
	}
	return nil
}

// probe reads kind[:target] (probespec.Parse: the grammar of probes is
// there, shared with the prober).
func probe(v string, pos func(int) pos) (kind, target string, _ *Error) {
	kind, target, err := probespec.Parse(v)
	if err != nil {
		return "", "", errf(pos(err.Offset), "%s", err.Msg)
	}
	return kind, target, nil
}

// element handles "OWNER [TTL] [CLASS] PE ADDRS:PORT key=value ...". A TTL
// is accepted for the shape of a record and ignored: pool answers carry
// the pool's ttl.
func (p *parser) element(owner string, first, typTok token, args []token) *Error {
	at := first.pos
	if p.origin == "" {
		return errf(at, "PE before the SOA record; want the SOA record first: its owner names the zone")
	}
	name := strings.ToLower(owner)
	handle, ok := childLabel(name, p.origin)
	if !ok {
		return errf(at, "PE at %s, which is not a pool name; want the handle of a $POOL, one label under %s", owner, p.origin)
	}
	handle = decodeLabel(handle)
	ps := p.pools[handle]
	if ps == nil {
		return errf(at, "PE for pool %s before its $POOL directive; want $POOL %s first", handle, handle)
	}
	if len(args) == 0 {
		return errf(typTok.pos, "PE without an address; want ADDR:PORT after PE, IPv6 as [ADDR]:PORT")
	}
	addrs, port, err := addrPort(args[0])
	if err != nil {
		return err
	}
	e := &handlespace.Element{
		ID:     handlespace.ElementID(addrs[0], port),
		Addrs:  handlespace.AddrsOf(addrs...),
		Port:   port,
		Weight: DefaultWeight,
		Static: true,
	}
	e.Label = handlespace.LabelOf(handlespace.IDString(e.ID))
	kvs, err := keyValues(args[1:], "PE", peKeys)
	if err != nil {
		return err
	}
	var nameKV, intervalKV, timeoutKV *kv
	override := p.def.Pools[ps.idx].Spec.Probe
	overridden := false
	for i := range kvs {
		a := &kvs[i]
		v, vat := a.val, a.valPos
		switch a.key {
		case "probe", "interval", "timeout", "rise", "fall", "jitter":
			if err := probeKey(&override, a, &intervalKV, &timeoutKV); err != nil {
				return err
			}
			overridden = true
		case "weight", "prio":
			n, err := strconv.ParseUint(v, 10, 32)
			if err != nil || !numberRE.MatchString(v) {
				return errf(vat, "bad %s %q; want a whole number from 0 to %d", a.key, v, uint32(math.MaxUint32))
			}
			if a.key == "weight" {
				e.Weight = uint32(n)
			} else {
				e.Priority = uint32(n)
			}
		case "load", "loaddeg":
			fr, ok := parseFraction(v)
			if !ok {
				return errf(vat, "bad %s %q; want a fraction from 0 to 1 or a percentage such as 35%%", a.key, v)
			}
			if a.key == "load" {
				e.Load = handlespace.LoadFromFraction(fr)
			} else {
				e.LoadDeg = handlespace.LoadFromFraction(fr)
			}
		case "site":
			s := strings.ToLower(v)
			if !siteRE.MatchString(s) {
				return errf(vat, "bad site %q; want one word of letters, digits, ., - and _", v)
			}
			site, err := handlespace.SiteNameFor(s)
			if err != nil {
				return errf(vat, "site %q: %v", v, err)
			}
			e.Site = site
		case "name":
			s := strings.ToLower(v)
			if !labelRE.MatchString(s) {
				return errf(vat, "bad name %q; want one DNS label of letters, digits and - (not first or last), at most 63 long", v)
			}
			e.Label = handlespace.LabelOf(s)
			nameKV = a
		case "transport":
			t, err := handlespace.ParseTransport(v)
			if err != nil {
				return errf(vat, "%s", err.Error())
			}
			e.Transport = t
		}
	}
	if overridden {
		if err := checkProbeTiming(override, intervalKV, timeoutKV); err != nil {
			return err
		}
		e.Probe = handlespace.ProbeRefOf(&override)
	}
	if prev, dup := ps.ids[e.ID]; dup {
		return errf(args[0].pos, "element %s (id %s, from its first address and port) is already in pool %s at %s; want each first ADDR:PORT once per pool",
			args[0].raw, handlespace.IDString(e.ID), handle, prev.ref(at.file))
	}
	if prev, dup := ps.labels[e.Label.String()]; dup {
		lat := args[0].pos
		if nameKV != nil {
			lat = nameKV.valPos
		}
		return errf(lat, "element name %s is already used in pool %s at %s; want a name= of its own for each element", e.Label.String(), handle, prev.ref(at.file))
	}
	ps.ids[e.ID] = at
	ps.labels[e.Label.String()] = at
	pd := &p.def.Pools[ps.idx]
	pd.Elements = append(pd.Elements, e)
	return nil
}

// addrPort reads ADDR[,ADDR...]:PORT, IPv6 in brackets.
func addrPort(t token) ([]netip.Addr, uint16, *Error) {
	s := t.val
	bad := func() ([]netip.Addr, uint16, *Error) {
		return nil, 0, errf(t.pos, "bad PE address %q; want ADDR:PORT, IPv6 as [ADDR]:PORT", s)
	}
	i := strings.LastIndexByte(s, ':')
	if i < 0 || t.quoted {
		return bad()
	}
	hosts, ps := s[:i], s[i+1:]
	if hosts == "" || strings.HasSuffix(hosts, ":") {
		return bad() // an IPv6 address without brackets
	}
	var addrs []netip.Addr
	for _, h := range strings.Split(hosts, ",") {
		var a netip.Addr
		var err error
		if inner, ok := strings.CutPrefix(h, "["); ok {
			inner, ok = strings.CutSuffix(inner, "]")
			if !ok {
				return bad()
			}
			a, err = netip.ParseAddr(inner)
			if err != nil || !a.Is6() || a.Is4In6() || a.Zone() != "" {
				return bad()
			}
		} else {
			a, err = netip.ParseAddr(h)
			if err != nil || !a.Is4() {
				return bad()
			}
		}
		for _, o := range addrs {
			if o == a {
				return nil, 0, errf(t.pos, "address %s is given twice in %q; want each address of an element once", h, s)
			}
		}
		// Loopback is the operator's to write here (a single-host setup).
		if err := handlespace.CheckAddr(a, true); err != nil {
			return nil, 0, errf(t.pos, "bad PE address in %q: %v", s, err)
		}
		addrs = append(addrs, a)
	}
	port, err := strconv.ParseUint(ps, 10, 16)
	if err != nil || port == 0 || !numberRE.MatchString(ps) {
		return nil, 0, errf(t.pos.at(i+1), "bad PE port %q in %q; want a port from 1 to 65535", ps, s)
	}
	return addrs, uint16(port), nil
}

// parseFraction reads 0..1 or 0%..100%.
func parseFraction(s string) (float64, bool) {
	if !fracRE.MatchString(s) {
		return 0, false
	}
	pct := strings.HasSuffix(s, "%")
	f, err := strconv.ParseFloat(strings.TrimSuffix(s, "%"), 64)
	if err != nil {
		return 0, false
	}
	if pct {
		f /= 100
	}
	if f < 0 || f > 1 {
		return 0, false
	}
	return f, true
}

// parseTTL reads a TTL: seconds, a BIND-style duration (1h30m, 1w, 2d) or
// a Go duration of whole seconds (90s, 1.5h), at most 2^31-1 seconds.
func parseTTL(s string) (uint32, bool) {
	switch {
	case numberRE.MatchString(s):
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil || v > maxTTL {
			return 0, false
		}
		return uint32(v), true
	case bindTTLRE.MatchString(s):
		var total, n uint64
		for i := 0; i < len(s); i++ {
			c := s[i]
			if isDigit(c) {
				n = n*10 + uint64(c-'0')
				if n > maxTTL {
					return 0, false
				}
				continue
			}
			switch c | 0x20 {
			case 's':
			case 'm':
				n *= 60
			case 'h':
				n *= 3600
			case 'd':
				n *= 86400
			case 'w':
				n *= 604800
			}
			total += n
			n = 0
			if total > maxTTL {
				return 0, false
			}
		}
		return uint32(total), true
	}
	if s == "" || !isDigit(s[0]) {
		return 0, false
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 || d%time.Second != 0 || d/time.Second > maxTTL {
		return 0, false
	}
	return uint32(d / time.Second), true
}
