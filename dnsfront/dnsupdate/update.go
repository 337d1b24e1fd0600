package dnsupdate

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
	"github.com/poolnsd/poolnsd/dnsfront/tsigkey"
	"github.com/poolnsd/poolnsd/handlespace"
	_ "github.com/poolnsd/poolnsd/handlespace/policy"       // the policies register themselves
	metrics "github.com/poolnsd/poolnsd/metrics/dnsmetrics" // the DNS counters only: see internal/walls
	"github.com/poolnsd/poolnsd/regcommit"
)

// DNS UPDATE (RFC 2136) registers pool elements. An element is the name
// <label>.<handle>.<zone> holding one SRV record (its port, priority and
// weight; the target is the name itself; adding another replaces it), A and/or AAAA records (its
// addresses) and optionally TXT records of key=value pairs (weight=, prio=,
// load=, loaddeg=, site=, policy=, transport=). The update section is
// applied to the name's records as RFC 2136 §3.4.2 says; what is left makes
// the registration: an SRV and an address register or update the element,
// no SRV removes it. See the README for the whole contract.

// Updater is what applies registrations: the registrar.
type Updater interface {
	// Allow reports whether the source may send another update now.
	Allow(from netip.Addr) bool
	// Submit applies a request and returns once it is durable, or failed
	// and changed nothing.
	Submit(ctx context.Context, req *regcommit.Request) (regcommit.Result, error)
}

var _ Updater = (*regcommit.Committer)(nil)

// Kind is what a name of a zone is, as the DNS front answers it: the
// prerequisites of an UPDATE see the records its answers hold.
type Kind uint8

const (
	// KindOther: a name the pools make that holds no record of its own
	// for UPDATE (an empty non-terminal, a pool's SVCB name), or none.
	KindOther Kind = iota
	// KindStatic: a name whose records are the zone file's.
	KindStatic
	// KindPool: a pool's name.
	KindPool
	// KindService: a pool's service name (_svc._proto.handle).
	KindService
	// KindElement: a pool element's name.
	KindElement
)

// Lookup says what name (lower case, inside z) names: its kind, its pool
// (for the kinds of pools and elements) and its element (KindElement).
// It is the DNS front's lookup, the one that decides what answers hold.
type Lookup func(z *handlespace.Zone, name string) (Kind, *handlespace.PoolView, *handlespace.Element)

// Signals returns the records at name (lower case, inside zone z of view
// v, a name of neither its zone file nor its pools, with a `_signal`
// label) when it is the name of an RFC 9615 signal that the DNS front
// serves (its CDS and CDNSKEY RRsets, by type), nil otherwise: the
// signer's records, which the UPDATE server's lookup does not see.
type Signals func(v *handlespace.View, z *handlespace.Zone, name string) map[uint16][]dns.RR

// Source gives the current handlespace view.
type Source interface {
	View() *handlespace.View
}

// Config configures a Server. Zero values have defaults.
type Config struct {
	// Updates applies the registrations; nil: UPDATE is answered NOTIMP.
	Updates Updater
	// Keys are the TSIG keys that may sign updates (the server's keyring,
	// which the DNS server verifies requests with).
	Keys *tsigkey.Keyring
	// Lookup is the DNS front's lookup, for the prerequisites.
	Lookup Lookup
	// Signals gives the records of RFC 9615's signals, for the
	// prerequisites; nil: none are served.
	Signals Signals
	// Logger logs refused and applied updates; slog.Default() if nil.
	Logger *slog.Logger
	// Metrics counts refused updates; nil counts nothing.
	Metrics *metrics.DNS
	// UDPSize is the EDNS UDP size that replies advertise.
	UDPSize int
	// Timeout bounds how long an update waits for its commit; 10 s if 0.
	Timeout time.Duration
}

// Server answers DNS UPDATEs: it checks them, and hands what they ask for
// to the Updater.
type Server struct {
	src           Source
	upd           Updater
	keys          *tsigkey.Keyring
	lookup        Lookup
	signals       Signals
	log           *slog.Logger
	metrics       *metrics.DNS
	udpSize       int
	updateTimeout time.Duration
}

// New returns a server of the updates of the zones of src.
func New(src Source, cfg Config) *Server {
	s := &Server{src: src, upd: cfg.Updates, keys: cfg.Keys, lookup: cfg.Lookup, signals: cfg.Signals, log: cfg.Logger, metrics: cfg.Metrics,
		udpSize: cfg.UDPSize, updateTimeout: cfg.Timeout}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.updateTimeout <= 0 {
		s.updateTimeout = defaultUpdateTimeout
	}
	if s.keys == nil {
		s.keys, _ = tsigkey.New(nil)
	}
	return s
}

// maxUpdateRRs bounds the records of the prerequisite and update sections
// of one UPDATE.
const maxUpdateRRs = 1024

// linearMax is how many keys or names parseUpdate searches linearly.
const linearMax = 16

// defaultUpdateTimeout bounds how long an UPDATE waits for its commit.
const defaultUpdateTimeout = 10 * time.Second

// txtKeys are the TXT keys a registration understands.
var txtKeys = []string{"weight", "prio", "load", "loaddeg", "site", "policy", "transport"}

// txtSorted are the indexes of txtKeys in the keys' alphabetical order.
var txtSorted = [...]uint8{2, 3, 5, 1, 4, 6, 0}

// txtState is the key=value pairs of an element's TXT records: at most
// one value for each of txtKeys, by index (no map to make per update).
type txtState struct {
	v   [7]string
	has uint8 // bit i: v[i] is set
}

func txtIndex(k string) int { return slices.Index(txtKeys, k) }

func (t *txtState) set(k, v string) {
	if i := txtIndex(k); i >= 0 {
		t.v[i], t.has = v, t.has|1<<i
	}
}

// get returns the value of k and whether it is set.
func (t *txtState) get(k string) (string, bool) {
	if i := txtIndex(k); i >= 0 && t.has&(1<<i) != 0 {
		return t.v[i], true
	}
	return "", false
}

func (t *txtState) del(k string) {
	if i := txtIndex(k); i >= 0 {
		t.v[i], t.has = "", t.has&^(1<<i)
	}
}

func (t *txtState) empty() bool { return t.has == 0 }

// pair returns the i-th pair in the keys' alphabetical order (i from 0
// to len(txtKeys)-1), and whether it is set.
func (t *txtState) pair(i int) (k, v string, ok bool) {
	j := txtSorted[i]
	return txtKeys[j], t.v[j], t.has&(1<<j) != 0
}

// updateError is a failure of an UPDATE with the rcode it gets.
type updateError struct {
	rcode int
	msg   string
}

func (e *updateError) Error() string { return e.msg }

func updErr(rcode int, format string, a ...any) error {
	return &updateError{rcode: rcode, msg: fmt.Sprintf(format, a...)}
}

// parsedUpdate is an UPDATE after the checks of its form.
type parsedUpdate struct {
	origin  string
	lookup  Lookup
	signals Signals
	prereq  []dns.RR
	upd     []Rec
	lease   *dns.EDNS0_UL
	// names are the element names the update section touches, in order of
	// first appearance, with their pool and label.
	names []peName
	keys  []string
}

// serveRoom is the working memory of Server.Serve: the parsed update and
// the registrar's Request, kept with a Message that is read again (Read,
// Clear) so that a kept Message serves an update with less garbage.
// Submit returns once the registrar is done with the Request.
type serveRoom struct {
	u     parsedUpdate
	req   regcommit.Request
	build func(*handlespace.View) ([]regcommit.Change, error) // u.build, made once
}

// parsed returns m's parsedUpdate, emptied, keeping the room of its lists.
func (m *Message) parsed() *parsedUpdate {
	if m.room == nil {
		m.room = new(serveRoom)
		m.room.build = m.room.u.build
	}
	m.room.clear()
	return &m.room.u
}

// clear empties r, keeping the room of its lists.
func (r *serveRoom) clear() {
	r.req = regcommit.Request{}
	names, keys := r.u.names, r.u.keys
	clear(names)
	clear(keys)
	if cap(names) > maxKeptRecs || cap(keys) > maxKeptRecs {
		names, keys = nil, nil // a rare large update's are not kept
	}
	r.u = parsedUpdate{names: names[:0], keys: keys[:0]}
}

type peName struct {
	name, pool, label string
}

// ServeUpdate answers a DNS UPDATE.
func (h *Server) ServeUpdate(w dns.ResponseWriter, r *dns.Msg) { h.Serve(w, FromMsg(r)) }

// Serve answers a DNS UPDATE read by Read (or FromMsg). The request's
// TSIG, if any, has been verified: w's TsigStatus says how.
func (h *Server) Serve(w dns.ResponseWriter, r *Message) {
	if h.upd == nil {
		h.updateReply(w, r, nil, dns.RcodeNotImplemented, "", nil)
		return
	}
	from := RemoteAddr(w)
	tsig := r.TSIG
	if err := r.TSIGErr; err != nil {
		h.metrics.UpdateRefused(metrics.CauseMalformed)
		h.refuse(w, r, nil, dns.RcodeFormatError, from, err.Error())
		return
	}
	var key *tsigkey.Key
	if tsig != nil {
		var st error
		if key, st = tsigkey.Verified(w, h.keys, tsig); st != nil {
			h.metrics.UpdateRefused(metrics.CauseAuth)
			code := tsigkey.ErrorCode(st)
			h.log.Info("update refused", "rcode", "NOTAUTH", "tsig_error", dns.RcodeToString[int(code)], "key", tsig.Hdr.Name,
				"from", from.String(), "zone", zoneName(r))
			if err := tsigkey.WriteFailure(w, r.skeleton(), tsig, st); err != nil {
				h.log.Debug("writing reply", "err", err)
			}
			return
		}
	}
	if !h.upd.Allow(from) {
		// Logged at debug: a flood must not flood the log too.
		h.log.Debug("update refused", "rcode", "REFUSED", "from", from.String(), "zone", zoneName(r), "reason", "rate limit")
		h.metrics.UpdateRefused(metrics.CauseLimit)
		h.updateReply(w, r, tsig, dns.RcodeRefused, "rate limit exceeded (registration.rate)", nil)
		return
	}
	u, err := h.parseUpdate(r)
	if err != nil {
		var ue *updateError
		errors.As(err, &ue)
		h.metrics.UpdateRefused(metrics.CauseMalformed)
		h.refuse(w, r, tsig, ue.rcode, from, ue.msg)
		return
	}
	if key == nil {
		h.metrics.UpdateRefused(metrics.CauseAuth)
		h.refuse(w, r, nil, dns.RcodeRefused, from, "unsigned update; updates need a TSIG signature")
		return
	}
	for _, n := range u.names {
		if !key.Allows(n.pool) {
			h.metrics.UpdateRefused(metrics.CauseForbidden)
			h.refuse(w, r, tsig, dns.RcodeRefused, from, fmt.Sprintf("TSIG key %s may not change pool %s", key.Name, n.pool))
			return
		}
	}
	req := &r.room.req // parseUpdate made r's room
	*req = regcommit.Request{
		Who:   regcommit.Who{Owner: "tsig:" + key.Name},
		Keys:  u.keys,
		Build: r.room.build,
		// The wait's bound without a context and a timer of its own.
		Deadline: time.Now().Add(h.updateTimeout),
	}
	res, err := h.upd.Submit(context.Background(), req)
	if err != nil {
		rcode := dns.RcodeServerFailure
		var ue *updateError
		switch {
		case errors.As(err, &ue):
			rcode = ue.rcode
		case regcommit.CodeOf(err) == regcommit.Refused, regcommit.CodeOf(err) == regcommit.Invalid:
			rcode = dns.RcodeRefused
		case regcommit.CodeOf(err) == regcommit.NotFound:
			rcode = dns.RcodeNotAuth
		}
		h.refuse(w, r, tsig, rcode, from, err.Error())
		return
	}
	var ul *dns.EDNS0_UL
	if u.lease != nil {
		granted := uint32(res.Lease / time.Second)
		ul = &dns.EDNS0_UL{Code: dns.EDNS0UL, Lease: granted}
		if u.lease.KeyLease != 0 {
			ul.KeyLease = granted // no name is kept beyond the lease
		}
	}
	if h.log.Enabled(context.Background(), slog.LevelDebug) {
		// Asked first: the line's arguments cost an update ≈ 65 bytes.
		h.log.Debug("update applied", "zone", u.origin, "key", key.Name, "from", from.String(), "changes", len(res.Done),
			"lease", res.Lease.String())
	}
	h.updateReply(w, r, tsig, dns.RcodeSuccess, "", ul)
}

// RemoteAddr is the request's source address (without a zone).
func RemoteAddr(w dns.ResponseWriter) netip.Addr {
	return RemoteAddrPort(w).Addr().Unmap().WithZone("")
}

// RemoteAddrPort is the request's source address and port: the writer's
// own when it says it as a netip.AddrPort (package dnsserve's writers,
// whose RemoteAddr makes a net.Addr each call), else its RemoteAddr's.
func RemoteAddrPort(w dns.ResponseWriter) netip.AddrPort {
	if ap, ok := w.(interface{ RemoteAddrPort() netip.AddrPort }); ok {
		return ap.RemoteAddrPort()
	}
	var a netip.Addr
	var port int
	switch ra := w.RemoteAddr().(type) {
	case *net.UDPAddr:
		a, _ = netip.AddrFromSlice(ra.IP)
		port = ra.Port
	case *net.TCPAddr:
		a, _ = netip.AddrFromSlice(ra.IP)
		port = ra.Port
	}
	return netip.AddrPortFrom(a, uint16(port))
}

// refuse logs why an update failed and answers rcode, signed when the
// request was validly signed (tsig non-nil).
func (h *Server) refuse(w dns.ResponseWriter, r *Message, tsig *dns.TSIG, rcode int, from netip.Addr, why string) {
	h.log.Info("update refused", "rcode", dns.RcodeToString[rcode], "from", from.String(), "zone", zoneName(r), "reason", why)
	h.updateReply(w, r, tsig, rcode, why, nil)
}

func zoneName(r *Message) string {
	if r.Zones > 0 {
		return r.Zone.Name
	}
	return ""
}

// updateReply answers an UPDATE: the zone section echoed, the rcode, an
// OPT when the request had one (with the granted lease, and an Extended
// DNS Error with why on failure, RFC 8914), signed when tsig is set. The
// reply is packed and signed by hand into a reused buffer (appendReply,
// tsigkey's AppendSigned): the bytes dns.Msg, SignReply and the server's
// writer made, without their garbage.
func (h *Server) updateReply(w dns.ResponseWriter, r *Message, tsig *dns.TSIG, rcode int, why string, ul *dns.EDNS0_UL) {
	bp := replyBufs.Get().(*[]byte)
	defer replyBufs.Put(bp)
	b, err := appendReply((*bp)[:0], r, rcode, uint16(h.udpSize), why, ul)
	if err == nil && tsig != nil {
		b, err = h.keys.AppendSigned(b, tsig, time.Now())
	}
	if err == nil {
		_, err = w.Write(b) // the writers copy or send it before they return
	}
	if err != nil {
		h.log.Debug("writing reply", "err", err)
	}
	*bp = b[:0]
}

// replyBufs are updateReply's buffers.
var replyBufs = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// appendReply appends the reply to the UPDATE r, unsigned, as dns.Msg
// packs it: the header (r's ID and opcode, QR, rcode's low four bits), r's
// zone record when its zone section is one (EchoZone), and when r has an
// OPT one of udpSize with rcode's upper bits, the lease option ul if set,
// and on failure an Extended DNS Error (Prohibited for REFUSED, else
// Other) with why cut to 200 bytes. An rcode over 15 without an OPT is an
// error, as dns.Msg's Pack says.
func appendReply(b []byte, r *Message, rcode int, udpSize uint16, why string, ul *dns.EDNS0_UL) ([]byte, error) {
	opt := r.OPT
	if rcode < 0 || rcode > 0xFFF || (rcode > 0xF && !opt) {
		return b, fmt.Errorf("dnsupdate: internal error: rcode %d does not pack (without an OPT, or over 0xFFF)", rcode)
	}
	start := len(b)
	b = binary.BigEndian.AppendUint16(b, r.ID)
	b = binary.BigEndian.AppendUint16(b, 1<<15|uint16(r.Opcode&0xF)<<11|uint16(rcode&0xF))
	qd, ar := 0, 0
	if EchoZone(r.Zones) {
		qd = 1
	}
	if opt {
		ar = 1
	}
	b = binary.BigEndian.AppendUint16(b, uint16(qd))
	b = append(b, 0, 0, 0, 0)
	b = binary.BigEndian.AppendUint16(b, uint16(ar))
	if qd == 1 {
		q := r.Zone
		var name [256]byte
		n, err := dns.PackDomainName(q.Name, name[:], 0, nil, false)
		if err != nil {
			return b[:start], err
		}
		b = append(b, name[:n]...)
		b = binary.BigEndian.AppendUint16(b, q.Qtype)
		b = binary.BigEndian.AppendUint16(b, q.Qclass)
	}
	if !opt {
		return b, nil
	}
	// The OPT: root owner, type, UDP size, extended rcode, version 0, no
	// flags, then its options.
	b = append(b, 0)
	b = binary.BigEndian.AppendUint16(b, dns.TypeOPT)
	b = binary.BigEndian.AppendUint16(b, udpSize)
	b = binary.BigEndian.AppendUint32(b, uint32(rcode>>4)<<24)
	rdlen := len(b)
	b = append(b, 0, 0)
	if ul != nil {
		if ul.KeyLease == 0 {
			b = appendOption(b, dns.EDNS0UL, 4)
			b = binary.BigEndian.AppendUint32(b, ul.Lease)
		} else {
			b = appendOption(b, dns.EDNS0UL, 8)
			b = binary.BigEndian.AppendUint32(b, ul.Lease)
			b = binary.BigEndian.AppendUint32(b, ul.KeyLease)
		}
	}
	if why != "" && rcode != dns.RcodeSuccess {
		info := dns.ExtendedErrorCodeOther
		if rcode == dns.RcodeRefused {
			info = dns.ExtendedErrorCodeProhibited
		}
		if len(why) > 200 {
			why = why[:200]
		}
		b = appendOption(b, dns.EDNS0EDE, 2+len(why))
		b = binary.BigEndian.AppendUint16(b, info)
		b = append(b, why...)
	}
	binary.BigEndian.PutUint16(b[rdlen:], uint16(len(b)-rdlen-2))
	return b, nil
}

// appendOption appends an EDNS option's code and length.
func appendOption(b []byte, code uint16, n int) []byte {
	b = binary.BigEndian.AppendUint16(b, code)
	return binary.BigEndian.AppendUint16(b, uint16(n))
}

// parseUpdate checks the form of an UPDATE (zone section RFC 2136 §3.1,
// prerequisite section §3.2, update section prescan §3.4.1) and that every
// name it updates is a pool element's name.
func (h *Server) parseUpdate(r *Message) (*parsedUpdate, error) {
	if r.Zones != 1 {
		return nil, updErr(dns.RcodeFormatError, "zone section has %d records, want 1", r.Zones)
	}
	zq := r.Zone
	if zq.Qtype != dns.TypeSOA {
		return nil, updErr(dns.RcodeFormatError, "zone section type %s, want SOA", dns.TypeToString[zq.Qtype])
	}
	if len(r.Prereq)+len(r.Upd) > maxUpdateRRs {
		return nil, updErr(dns.RcodeFormatError, "more than %d records", maxUpdateRRs)
	}
	origin := lower(zq.Name)
	v := h.src.View()
	z := v.Zone(origin)
	if z == nil || (zq.Qclass != dns.ClassINET) {
		return nil, updErr(dns.RcodeNotAuth, "not authoritative for zone %s class %s", zq.Name, dns.ClassToString[zq.Qclass])
	}
	u := r.parsed()
	u.origin, u.lookup, u.signals, u.prereq, u.upd = origin, h.lookup, h.signals, r.Prereq, r.Upd
	if r.OptVersion != 0 {
		return nil, updErr(dns.RcodeBadVers, "EDNS version %d", r.OptVersion)
	}
	u.lease = r.Lease
	// The sets of keys and of names: a linear search of their lists
	// while they are short (an update names one element or a few), maps
	// beyond.
	var keySet, nameSet map[string]struct{}
	addKey := func(k string) {
		if keySet == nil && len(u.keys) < linearMax {
			if !slices.Contains(u.keys, k) {
				u.keys = append(u.keys, k)
			}
			return
		}
		if keySet == nil {
			keySet = make(map[string]struct{}, 2*linearMax)
			for _, x := range u.keys {
				keySet[x] = struct{}{}
			}
		}
		if _, ok := keySet[k]; !ok {
			keySet[k] = struct{}{}
			u.keys = append(u.keys, k)
		}
	}
	seen := func(name string) bool {
		if nameSet == nil && len(u.names) < linearMax {
			for i := range u.names {
				if u.names[i].name == name {
					return true
				}
			}
			return false
		}
		if nameSet == nil {
			nameSet = make(map[string]struct{}, 2*linearMax)
			for i := range u.names {
				nameSet[u.names[i].name] = struct{}{}
			}
		}
		_, ok := nameSet[name]
		return ok
	}
	// Prerequisites (§3.2.1, §3.2.2 form).
	for _, rr := range r.Prereq {
		hd := rr.Header()
		name := lower(hd.Name)
		if !inZone(origin, name) {
			return nil, updErr(dns.RcodeNotZone, "prerequisite %s is outside zone %s", hd.Name, origin)
		}
		if hd.Ttl != 0 {
			return nil, updErr(dns.RcodeFormatError, "prerequisite %s has TTL %d, want 0", hd.Name, hd.Ttl)
		}
		switch hd.Class {
		case dns.ClassANY, dns.ClassNONE:
			if hd.Rdlength != 0 {
				return nil, updErr(dns.RcodeFormatError, "prerequisite %s of class %s has data", hd.Name, dns.ClassToString[hd.Class])
			}
			if badType(hd.Rrtype, true) {
				return nil, updErr(dns.RcodeFormatError, "prerequisite %s has type %s", hd.Name, dns.TypeToString[hd.Rrtype])
			}
		case dns.ClassINET:
			if hd.Rrtype == dns.TypeANY || badType(hd.Rrtype, false) || hd.Rdlength == 0 {
				return nil, updErr(dns.RcodeFormatError, "prerequisite %s %s of class IN needs data of a real type", hd.Name, dns.TypeToString[hd.Rrtype])
			}
		default:
			return nil, updErr(dns.RcodeFormatError, "prerequisite %s has class %s", hd.Name, dns.ClassToString[hd.Class])
		}
		if k := nameKey(origin, name); k != "" {
			addKey(k)
		}
	}
	// Update section prescan (§3.4.1.3) and the names it touches.
	for i := range r.Upd {
		hd := &r.Upd[i]
		name := lower(hd.Name)
		if !inZone(origin, name) {
			return nil, updErr(dns.RcodeNotZone, "update %s is outside zone %s", hd.Name, origin)
		}
		switch hd.Class {
		case dns.ClassINET:
			if hd.Type == dns.TypeANY || badType(hd.Type, false) {
				return nil, updErr(dns.RcodeFormatError, "update adds a record of type %s", dns.TypeToString[hd.Type])
			}
			if hd.Rdlength == 0 {
				return nil, updErr(dns.RcodeFormatError, "update adds %s %s without data", hd.Name, dns.TypeToString[hd.Type])
			}
		case dns.ClassANY:
			if hd.TTL != 0 || hd.Rdlength != 0 || badType(hd.Type, true) {
				return nil, updErr(dns.RcodeFormatError, "update deletes %s %s with a TTL, data or a bad type", hd.Name, dns.TypeToString[hd.Type])
			}
		case dns.ClassNONE:
			if hd.TTL != 0 || hd.Type == dns.TypeANY || badType(hd.Type, false) {
				return nil, updErr(dns.RcodeFormatError, "update deletes a record %s %s with a TTL or a bad type", hd.Name, dns.TypeToString[hd.Type])
			}
		default:
			return nil, updErr(dns.RcodeFormatError, "update %s has class %s", hd.Name, dns.ClassToString[hd.Class])
		}
		if seen(name) {
			continue
		}
		pn, err := elementName(z, origin, name)
		if err != nil {
			return nil, err
		}
		u.names = append(u.names, pn)
		if nameSet != nil {
			nameSet[name] = struct{}{}
		}
		addKey(regcommit.Key(pn.pool, pn.label))
	}
	return u, nil
}

// inZone reports whether name is origin or below it (both lower case),
// as dns.IsSubDomain does: by a suffix after an unescaped dot, without
// splitting both names into labels, when neither has an escape.
func inZone(origin, name string) bool {
	if strings.IndexByte(origin, '\\') >= 0 || strings.IndexByte(name, '\\') >= 0 {
		return dns.IsSubDomain(origin, name)
	}
	if origin == "." || name == origin {
		return true
	}
	n := len(name) - len(origin)
	return n >= 2 && name[n-1] == '.' && name[n:] == origin
}

// badType reports the types that never appear in these sections:
// meta-types and the pseudo-records. ANY is allowed where anyOK.
func badType(t uint16, anyOK bool) bool {
	switch t {
	case dns.TypeANY:
		return !anyOK
	case dns.TypeAXFR, dns.TypeIXFR, dns.TypeMAILA, dns.TypeMAILB, dns.TypeOPT, dns.TypeTSIG, dns.TypeTKEY:
		return true
	}
	return false
}

// elementName checks that name (lower case, in zone origin) is a pool
// element's name <label>.<handle>.<origin> that registrations may hold,
// at or below no `_signal` label (signal.go).
func elementName(z *handlespace.Zone, origin, name string) (peName, error) {
	if signalName(name) {
		return peName{}, updErr(dns.RcodeRefused, "%s is at or below a DNSSEC bootstrapping signal's name (_signal, RFC 9615): the signer's, not an UPDATE's", name)
	}
	rel := strings.TrimSuffix(strings.TrimSuffix(name, origin), ".")
	label, handle, two := strings.Cut(rel, ".")
	if rel == "" || !two || strings.IndexByte(handle, '.') >= 0 || strings.ContainsRune(rel, '\\') {
		return peName{}, updErr(dns.RcodeRefused, "%s is not a pool element's name (<element>.<pool>.%s)", name, origin)
	}
	pool := handle + "." + origin
	if _, static := z.Nodes[name]; static {
		return peName{}, updErr(dns.RcodeRefused, "%s has static records (zone file)", name)
	}
	if z.Pool(handle) == nil {
		if _, static := z.Nodes[pool]; static {
			return peName{}, updErr(dns.RcodeRefused, "%s has static records (zone file); it cannot be a pool", pool)
		}
	}
	if label == "" || handle == "" {
		return peName{}, updErr(dns.RcodeRefused, "%s is not a pool element's name", name)
	}
	return peName{name: name, pool: pool, label: label}, nil
}

// nameKey is the conflict key of a name a prerequisite reads (lower
// case, inside origin): its pool (the label just below origin) and, for
// a name two labels below origin, its element's label. An escaped dot is
// part of its label: the pool of `a\.b.pool.example.` is that name
// itself, not "b.pool.example.".
func nameKey(origin, name string) string {
	rel := strings.TrimSuffix(strings.TrimSuffix(name, origin), ".")
	if rel == "" {
		return ""
	}
	var labels []string
	if strings.IndexByte(rel, '\\') < 0 {
		labels = strings.Split(rel, ".")
	} else {
		labels = dns.SplitDomainName(rel) // cuts at the dots that are not escaped
	}
	if len(labels) == 0 {
		return ""
	}
	pool := labels[len(labels)-1] + "." + origin
	if len(labels) == 2 {
		return regcommit.Key(pool, labels[0])
	}
	return regcommit.Key(pool, "")
}

// build runs on the registrar's committer: it checks the prerequisites
// against the current view and turns the update section into Changes.
func (u *parsedUpdate) build(v *handlespace.View) ([]regcommit.Change, error) {
	z := v.Zone(u.origin)
	if z == nil {
		return nil, updErr(dns.RcodeNotAuth, "zone %s is no longer served", u.origin)
	}
	if err := (names{lookup: u.lookup, signals: u.signals, v: v, z: z}).checkPrereqs(u.prereq); err != nil {
		return nil, err
	}
	var out []regcommit.Change
	for _, n := range u.names {
		var cur *handlespace.Element
		pv := z.Pool(strings.TrimSuffix(strings.TrimSuffix(n.pool, u.origin), "."))
		if pv != nil {
			cur = pv.Label(n.label)
			if cur != nil && cur.Static {
				return nil, updErr(dns.RcodeRefused, "%s is defined by a zone file", n.name)
			}
		}
		st := stateOf(cur, n.name)
		for i := range u.upd {
			rr := &u.upd[i]
			if lower(rr.Name) != n.name {
				continue
			}
			if err := st.apply(rr, n.name); err != nil {
				return nil, err
			}
		}
		c, ok, err := st.change(n, u.lease)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, c)
		}
	}
	return out, nil
}

// peState is the records of one element's name while an update applies.
type peState struct {
	existed bool
	srv     srvRec // the SRV record, if hasSRV
	hasSRV  bool
	addrs   []netip.Addr
	txt     txtState
	added   bool   // the update added records
	srvTTL  uint32 // TTL of the last SRV the update added
	srvSeen bool
	lease   time.Duration // of the existing registration
}

// srvRec is an element's SRV record: its target is its name.
type srvRec struct {
	Priority, Weight, Port uint16
}

// stateOf is the records of element e (nil: none) at its name: a value,
// which its user keeps on its stack.
func stateOf(e *handlespace.Element, name string) peState {
	var st peState
	if e == nil {
		return st
	}
	st.existed = true
	st.srv, st.hasSRV = srvRec{Priority: uint16(min(e.Priority, 0xFFFF)), Weight: uint16(min(e.Weight, 0xFFFF)), Port: e.Port}, true
	st.addrs = e.Addrs.Slice()
	elementTXT(e, &st.txt)
	st.lease = e.Lease
	return st
}

// elementTXT sets in m the key=value state of an element that its SRV
// record does not carry.
func elementTXT(e *handlespace.Element, m *txtState) {
	if e.Priority > 0xFFFF {
		m.set("prio", strconv.FormatUint(uint64(e.Priority), 10))
	}
	if e.Weight > 0xFFFF {
		m.set("weight", strconv.FormatUint(uint64(e.Weight), 10))
	}
	if e.Load != 0 {
		m.set("load", strconv.FormatFloat(handlespace.LoadFraction(e.Load), 'g', 6, 64))
	}
	if e.LoadDeg != 0 {
		m.set("loaddeg", strconv.FormatFloat(handlespace.LoadFraction(e.LoadDeg), 'g', 6, 64))
	}
	if e.Site.String() != "" {
		m.set("site", e.Site.String())
	}
	if e.Transport != handlespace.TransportTCP {
		m.set("transport", e.Transport.String())
	}
}

// apply applies one update record (RFC 2136 §3.4.2.2–3.4.2.4).
func (st *peState) apply(rr *Rec, name string) error {
	switch rr.Class {
	case dns.ClassINET: // add
		st.added = true
		switch rr.Type {
		case dns.TypeSRV:
			if lower(rr.Target) != name {
				return updErr(dns.RcodeRefused, "SRV target %s: an element's SRV points at its own name %s", rr.Target, name)
			}
			// An element has one SRV record: adding one replaces it, as
			// RFC 2136 §3.4.2.2 does for the zone's SOA.
			st.srvSeen, st.srvTTL = true, rr.TTL
			st.srv, st.hasSRV = srvRec{Priority: rr.Priority, Weight: rr.Weight, Port: rr.Port}, true
		case dns.TypeA, dns.TypeAAAA:
			st.addAddr(rr.Addr)
		case dns.TypeTXT:
			pairs, err := parseTXT(rr.Txt)
			if err != nil {
				return err
			}
			for _, p := range pairs {
				st.txt.set(p[0], p[1])
			}
		default:
			return updErr(dns.RcodeRefused, "%s: an element's name holds SRV, A, AAAA and TXT records, not %s", name, dns.TypeToString[rr.Type])
		}
	case dns.ClassANY: // delete an RRset, or every RRset of the name
		switch rr.Type {
		case dns.TypeANY:
			st.hasSRV, st.addrs, st.txt = false, nil, txtState{}
		case dns.TypeSRV:
			st.hasSRV = false
		case dns.TypeA:
			st.addrs = slices.DeleteFunc(st.addrs, netip.Addr.Is4)
		case dns.TypeAAAA:
			st.addrs = slices.DeleteFunc(st.addrs, netip.Addr.Is6)
		case dns.TypeTXT:
			st.txt = txtState{}
		}
	case dns.ClassNONE: // delete one record
		switch rr.Type {
		case dns.TypeSRV:
			s := st.srv
			if s.Priority == rr.Priority && s.Weight == rr.Weight && s.Port == rr.Port && lower(rr.Target) == name {
				st.hasSRV = false
			}
		case dns.TypeA, dns.TypeAAAA:
			st.delAddr(rr.Addr)
		case dns.TypeTXT:
			pairs, err := parseTXT(rr.Txt)
			if err != nil {
				return err
			}
			for _, p := range pairs {
				if v, ok := st.txt.get(p[0]); ok && v == p[1] {
					st.txt.del(p[0])
				}
			}
		}
	}
	return nil
}

func (st *peState) addAddr(a netip.Addr) {
	if a.IsValid() && !slices.Contains(st.addrs, a) {
		st.addrs = append(st.addrs, a)
	}
}

func (st *peState) delAddr(a netip.Addr) {
	st.addrs = slices.DeleteFunc(st.addrs, func(x netip.Addr) bool { return x == a })
}

// ipv4 and ipv6 convert the addresses of A and AAAA records.
func ipv4(ip net.IP) netip.Addr {
	a, _ := netip.AddrFromSlice(ip.To4())
	return a
}

func ipv6(ip net.IP) netip.Addr {
	a, _ := netip.AddrFromSlice(ip.To16())
	return a
}

// parseTXT splits TXT strings into key=value pairs (separated by spaces
// within a string too).
func parseTXT(strs []string) ([][2]string, error) {
	var out [][2]string
	for _, s := range strs {
		for f := range strings.FieldsSeq(s) { // no slice of the fields made
			k, v, ok := strings.Cut(f, "=")
			k = strings.ToLower(k)
			if !ok || v == "" {
				return nil, updErr(dns.RcodeRefused, "TXT %q is not key=value", f)
			}
			if !slices.Contains(txtKeys, k) {
				return nil, updErr(dns.RcodeRefused, "TXT key %q is unknown; want %s", k, strings.Join(txtKeys, ", "))
			}
			if err := checkTXTValue(k, v); err != nil {
				return nil, err
			}
			out = append(out, [2]string{k, v})
		}
	}
	return out, nil
}

func checkTXTValue(k, v string) error {
	switch k {
	case "weight", "prio":
		if _, err := strconv.ParseUint(v, 10, 32); err != nil {
			return updErr(dns.RcodeRefused, "TXT %s=%s: want a whole number 0..4294967295", k, v)
		}
	case "load", "loaddeg":
		if _, err := parseFraction(v); err != nil {
			return updErr(dns.RcodeRefused, "TXT %s=%s: %v", k, v, err)
		}
	case "policy":
		if _, err := handlespace.NewPolicy(v, nil); err != nil {
			return updErr(dns.RcodeRefused, "TXT policy=%s: %v", v, err)
		}
	case "transport":
		if _, err := handlespace.ParseTransport(v); err != nil {
			return updErr(dns.RcodeRefused, "TXT transport=%s: %v", v, err)
		}
	case "site":
		if len(v) > 64 {
			return updErr(dns.RcodeRefused, "TXT site=%s: longer than 64 bytes", v)
		}
	}
	return nil
}

// parseFraction parses a load: 0..1, or a percentage "25%".
func parseFraction(v string) (float64, error) {
	pct := strings.HasSuffix(v, "%")
	f, err := strconv.ParseFloat(strings.TrimSuffix(v, "%"), 64)
	if pct {
		f /= 100
	}
	if err != nil || !(f >= 0 && f <= 1) {
		return 0, errors.New("want a fraction 0..1 or a percentage 0%..100%")
	}
	return f, nil
}

// change turns the final state into a registration, a removal or nothing.
func (st *peState) change(n peName, ul *dns.EDNS0_UL) (regcommit.Change, bool, error) {
	c := regcommit.Change{Pool: n.pool, Label: n.label}
	if !st.hasSRV {
		switch {
		case st.existed:
			return c, true, nil // removal
		case st.added:
			return c, false, updErr(dns.RcodeRefused, "%s: a pool element needs an SRV record (its port)", n.name)
		}
		return c, false, nil // deleting what is not there
	}
	if len(st.addrs) == 0 {
		return c, false, updErr(dns.RcodeRefused, "%s: a pool element needs an A or AAAA record", n.name)
	}
	s := st.srv
	e := &handlespace.Element{Port: s.Port, Priority: uint32(s.Priority), Weight: uint32(s.Weight)}
	if e.Port == 0 {
		return c, false, updErr(dns.RcodeRefused, "%s: SRV port 0", n.name)
	}
	// IPv4 first, then IPv6, each in the order given: one slice.
	addrs := make([]netip.Addr, 0, len(st.addrs))
	for _, a := range st.addrs {
		if !a.Is6() {
			addrs = append(addrs, a)
		}
	}
	for _, a := range st.addrs {
		if !a.Is4() {
			addrs = append(addrs, a)
		}
	}
	e.Addrs = handlespace.AddrsOf(addrs...)
	for i := range txtKeys {
		k, v, ok := st.txt.pair(i)
		if !ok {
			continue
		}
		switch k {
		case "weight":
			x, _ := strconv.ParseUint(v, 10, 32)
			e.Weight = uint32(x)
		case "prio":
			x, _ := strconv.ParseUint(v, 10, 32)
			e.Priority = uint32(x)
		case "load":
			f, _ := parseFraction(v)
			e.Load = handlespace.LoadFromFraction(f)
		case "loaddeg":
			f, _ := parseFraction(v)
			e.LoadDeg = handlespace.LoadFromFraction(f)
		case "site":
			site, err := handlespace.SiteNameFor(v)
			if err != nil {
				return c, false, updErr(dns.RcodeRefused, "%s: TXT site=%s: %v", n.name, v, err)
			}
			e.Site = site
		case "transport":
			e.Transport, _ = handlespace.ParseTransport(v)
		case "policy":
			c.Policy = v
		}
	}
	c.Elem = e
	switch {
	case ul != nil:
		c.Lease = time.Duration(ul.Lease) * time.Second
	case st.srvSeen:
		c.Lease = time.Duration(st.srvTTL) * time.Second
	default:
		c.Lease = st.lease
	}
	return c, true, nil
}
