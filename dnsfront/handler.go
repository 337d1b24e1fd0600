package dnsfront

import (
	"encoding/binary"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/metrics"
)

// Handler answers DNS queries from the current handlespace view. It is
// safe for concurrent use; the query path takes no lock and does no I/O
// besides writing the reply.
type Handler struct {
	src      Source
	udpSize  int
	log      *slog.Logger
	scratch  sync.Pool // *scratch
	metrics  *metrics.DNS
	queryLog atomic.Bool
	sites    atomic.Pointer[handlespace.SiteMap] // nil: no site map

	upd           Updater  // nil: no DNS UPDATE
	keys          *keyring // TSIG keys of updates
	updateTimeout time.Duration
}

var _ dns.Handler = (*Handler)(nil)

// scratch is per-query working memory, recycled through a sync.Pool so that
// an answered query allocates nothing of its own on the fast path.
type scratch struct {
	buf    []byte
	picks  []handlespace.Pick // the policy's choice
	wires  []*elemWire        // their packed records, aligned with picks
	client handlespace.Client
	sited  bool // the selected set's order depends on the client's site
}

// NewHandler returns a handler serving src.
func NewHandler(src Source, cfg Config) *Handler {
	if cfg.UDPSize <= 0 {
		cfg.UDPSize = 1232
	}
	cfg.UDPSize = max(cfg.UDPSize, dns.MinMsgSize)
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	h := &Handler{src: src, udpSize: cfg.UDPSize, log: cfg.Logger, metrics: cfg.Metrics, upd: cfg.Updates, updateTimeout: cfg.UpdateTimeout}
	h.queryLog.Store(cfg.QueryLog)
	h.sites.Store(cfg.Sites)
	if h.updateTimeout <= 0 {
		h.updateTimeout = defaultUpdateTimeout
	}
	var err error
	if h.keys, err = newKeyring(cfg.TSIG); err != nil {
		// Start refuses such a Config; a Handler made directly without
		// Start knows no key, and every signed update is BADKEY.
		cfg.Logger.Error("TSIG keys not used", "err", err.Error())
		h.keys = &keyring{keys: map[string]*Key{}}
	}
	h.scratch.New = func() any {
		return &scratch{buf: make([]byte, 0, 4096), picks: make([]handlespace.Pick, 0, 64), wires: make([]*elemWire, 0, 64)}
	}
	return h
}

// acceptMsg is the server's MsgAcceptFunc. checkingReader has already
// turned away what must not reach the handler (responses, opcodes other
// than QUERY and UPDATE, malformed messages), so it accepts the rest;
// miekg/dns's default would answer UPDATE with NOTIMP.
func acceptMsg(dh dns.Header) dns.MsgAcceptAction {
	if dh.Bits&bitQR != 0 {
		return dns.MsgIgnore
	}
	return dns.MsgAccept
}

// checkingReader reads messages for miekg/dns's server and checks each
// one (checkMsg) before the server sees it: it answers the ones that get
// an error itself, from their bytes, and drops the ones that get nothing,
// so that only well-formed QUERY and UPDATE messages go on.
type checkingReader struct {
	dns.Reader
	h *Handler
}

// errHandled tells miekg/dns's UDP loop that the message read was dealt
// with; as a temporary error, the loop reads the next one.
var errHandled = handledError{}

type handledError struct{}

func (handledError) Error() string   { return "dnsfront: message answered by the reader" }
func (handledError) Timeout() bool   { return false }
func (handledError) Temporary() bool { return true }

var _ net.Error = handledError{}

// check returns the message's verdict and, for an error, the reply to send.
func (cr *checkingReader) check(b []byte) (serve bool, reply []byte) {
	var m wireMsg
	v := checkMsg(b, &m)
	if v == verdictServe {
		return true, nil
	}
	h := cr.h
	rcode := dns.RcodeFormatError
	switch v {
	case verdictDrop:
		h.metrics.Rejected(metrics.RejectIgnored)
		return false, nil
	case verdictNotImp:
		rcode = dns.RcodeNotImplemented
		h.metrics.Rejected(metrics.RejectNotImp)
	default:
		h.metrics.Rejected(metrics.RejectFormErr)
	}
	// At most a header, a question of 259 bytes and an OPT: it fits any
	// UDP reply.
	return false, appendErrorReply(make([]byte, 0, 64+m.qend), b, &m, rcode, h.udpSize)
}

// ReadUDP implements dns.Reader.
func (cr *checkingReader) ReadUDP(conn *net.UDPConn, timeout time.Duration) ([]byte, *dns.SessionUDP, error) {
	b, sess, err := cr.Reader.ReadUDP(conn, timeout)
	if err != nil {
		return b, sess, err
	}
	serve, reply := cr.check(b)
	if serve {
		return b, sess, nil
	}
	if len(reply) > 0 {
		if _, err := dns.WriteToSessionUDP(conn, reply, sess); err != nil {
			cr.h.log.Debug("writing reply", "err", err)
		}
	}
	return nil, nil, errHandled
}

// ReadTCP implements dns.Reader. miekg/dns ends a connection on any read
// error, so the messages it must not see are answered here and the next
// one read.
func (cr *checkingReader) ReadTCP(conn net.Conn, timeout time.Duration) ([]byte, error) {
	for {
		b, err := cr.Reader.ReadTCP(conn, timeout)
		if err != nil {
			return b, err
		}
		serve, reply := cr.check(b)
		if serve {
			return b, nil
		}
		if len(reply) > 0 {
			framed := binary.BigEndian.AppendUint16(make([]byte, 0, 2+len(reply)), uint16(len(reply)))
			if _, err := conn.Write(append(framed, reply...)); err != nil {
				return nil, err
			}
		}
	}
}

// request is what ServeDNS learned of a query.
type request struct {
	r       *dns.Msg
	q       dns.Question
	qname   string // lower case
	tcp     bool
	opt     *dns.OPT  // the query's OPT record, nil without EDNS
	maxSize int       // largest reply we may send
	logq    bool      // the query log was on when the query came
	tsig    *dns.TSIG // the query's verified TSIG: the reply is signed
}

// SetQueryLog turns the query log (one info line per query) on or off.
func (h *Handler) SetQueryLog(on bool) { h.queryLog.Store(on) }

// SetSites replaces the site map of the nearest policy (nil: none); the
// queries after it use the new one.
func (h *Handler) SetSites(m *handlespace.SiteMap) { h.sites.Store(m) }

// ServeDNS implements dns.Handler. One query in the metrics' sample is
// timed: reading the clock costs more than the rest of the accounting.
func (h *Handler) ServeDNS(w dns.ResponseWriter, r *dns.Msg) {
	if h.metrics.Sample() {
		t0 := time.Now()
		h.serveDNS(w, r)
		h.metrics.Latency(time.Since(t0))
		return
	}
	h.serveDNS(w, r)
}

func (h *Handler) serveDNS(w dns.ResponseWriter, r *dns.Msg) {
	defer func() {
		if p := recover(); p != nil {
			h.log.Error("internal error answering query; answered SERVFAIL", "panic", p)
			m := new(dns.Msg)
			m.SetRcode(r, dns.RcodeServerFailure)
			var req *request
			if len(r.Question) == 1 {
				req = &request{r: r, q: r.Question[0], logq: h.queryLog.Load()}
				_, req.tcp = w.RemoteAddr().(*net.TCPAddr)
			}
			h.account(w, req, dns.RcodeServerFailure, false, m.Len())
			w.WriteMsg(m)
		}
	}()
	if r.Opcode == dns.OpcodeUpdate {
		h.serveUpdate(w, r)
		return
	}
	if len(r.Question) != 1 {
		h.reply(w, r, nil, dns.RcodeFormatError)
		return
	}
	req := request{r: r, q: r.Question[0], opt: r.IsEdns0(), logq: h.queryLog.Load()}
	_, req.tcp = w.RemoteAddr().(*net.TCPAddr)
	switch {
	case req.tcp:
		req.maxSize = dns.MaxMsgSize
	case req.opt != nil:
		req.maxSize = min(max(int(req.opt.UDPSize()), dns.MinMsgSize), h.udpSize)
	default:
		req.maxSize = dns.MinMsgSize
	}
	if signedQuery(r) && !h.checkSigned(w, r, &req) {
		return
	}
	if req.opt != nil && req.opt.Version() != 0 {
		h.reply(w, r, &req, dns.RcodeBadVers)
		return
	}
	switch req.q.Qtype {
	case dns.TypeAXFR, dns.TypeIXFR:
		h.reply(w, r, &req, dns.RcodeRefused) // no zone transfers
		return
	case dns.TypeOPT, dns.TypeTSIG, dns.TypeTKEY:
		h.reply(w, r, &req, dns.RcodeFormatError)
		return
	case dns.TypeMAILA, dns.TypeMAILB:
		h.reply(w, r, &req, dns.RcodeNotImplemented)
		return
	}
	if req.q.Qclass != dns.ClassINET && req.q.Qclass != dns.ClassANY {
		h.reply(w, r, &req, dns.RcodeRefused)
		return
	}
	req.qname = lower(req.q.Name)
	z := h.src.View().FindZone(req.qname)
	if z == nil {
		h.reply(w, r, &req, dns.RcodeRefused)
		return
	}
	t := classify(z, req.qname)
	if t.kind != kindStatic && t.kind != kindNone && h.fast(w, &req, &t) {
		return
	}
	h.slow(w, &req, z, &t)
}

// lower returns s in lower case, without allocating when it already is.
func lower(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; 'A' <= c && c <= 'Z' {
			return strings.ToLower(s)
		}
	}
	return s
}

// nameKind says what a name in a zone is.
type nameKind uint8

const (
	kindNone    nameKind = iota // does not exist
	kindStatic                  // a name of the zone file (or below a delegation, or a wildcard)
	kindPool                    // <handle>.<zone>
	kindService                 // <service>.<handle>.<zone>
	kindElement                 // <pe>.<handle>.<zone>
	kindPoolENT                 // <_proto>.<handle>.<zone>: exists, holds nothing
)

type target struct {
	kind nameKind
	pool *handlespace.PoolView
	elem *handlespace.Element
}

// classify finds what qname (lower case, inside z) names.
func classify(z *handlespace.Zone, qname string) target {
	rel := qname[:len(qname)-len(z.Origin)]
	if rel == "" || strings.IndexByte(rel, '\\') >= 0 {
		return target{kind: kindStatic}
	}
	// rel is "handle." or "prefix.handle.".
	i := strings.LastIndexByte(rel[:len(rel)-1], '.')
	handle, prefix := rel[i+1:len(rel)-1], rel[:i+1]
	pv := z.Pool(handle)
	if pv == nil {
		return target{kind: kindStatic}
	}
	switch {
	case prefix == "":
		return target{kind: kindPool, pool: pv}
	case pv.Spec.Service != "" && len(prefix) == len(pv.Spec.Service)+1 && strings.HasPrefix(prefix, pv.Spec.Service):
		return target{kind: kindService, pool: pv}
	case strings.IndexByte(prefix, '.') == len(prefix)-1:
		label := prefix[:len(prefix)-1]
		if e := pv.Label(label); e != nil {
			return target{kind: kindElement, pool: pv, elem: e}
		}
		if s := pv.Spec.Service; s != "" && s[strings.IndexByte(s, '.')+1:] == label {
			return target{kind: kindPoolENT, pool: pv}
		}
	}
	return target{kind: kindNone, pool: pv}
}

// clientOf fills c with what the policies may use of the query's source.
func clientOf(c *handlespace.Client, w dns.ResponseWriter, opt *dns.OPT) {
	*c = handlespace.Client{}
	switch a := w.RemoteAddr().(type) {
	case *net.UDPAddr:
		c.Addr, _ = netip.AddrFromSlice(a.IP)
	case *net.TCPAddr:
		c.Addr, _ = netip.AddrFromSlice(a.IP)
	}
	c.Addr = c.Addr.Unmap()
	if ecs := subnetOption(opt); ecs != nil {
		if a, ok := netip.AddrFromSlice(ecs.Address); ok {
			bits := int(ecs.SourceNetmask)
			switch {
			case ecs.Family != 2:
				a = a.Unmap()
			case a.Is4In6() && bits >= 96:
				// An IPv4-mapped IPv6 subnet is the IPv4 subnet.
				a, bits = a.Unmap(), bits-96
			}
			if p, err := a.Prefix(bits); err == nil {
				c.Subnet = p
			}
		}
	}
}

// subnetOption returns the query's EDNS Client Subnet option, if any.
func subnetOption(opt *dns.OPT) *dns.EDNS0_SUBNET {
	if opt == nil {
		return nil
	}
	for _, o := range opt.Option {
		if s, ok := o.(*dns.EDNS0_SUBNET); ok {
			return s
		}
	}
	return nil
}

// account counts a reply in the metrics and, when the query log is on,
// logs it. It is called just before the reply is written, so that a client
// that has its answer and then scrapes the metrics finds it counted. req is
// nil for a query without a question.
func (h *Handler) account(w dns.ResponseWriter, req *request, rcode int, tc bool, size int) {
	if req == nil {
		_, tcp := w.RemoteAddr().(*net.TCPAddr)
		h.metrics.QueryNoQuestion(rcode, tcp)
	} else {
		h.metrics.Query(req.q.Qtype, rcode, req.tcp)
	}
	if tc {
		h.metrics.Truncated()
	}
	if (req != nil && req.logq) || (req == nil && h.queryLog.Load()) {
		h.logQuery(w, req, rcode, tc, size)
	}
}

// logQuery writes the query log line of one reply.
func (h *Handler) logQuery(w dns.ResponseWriter, req *request, rcode int, tc bool, size int) {
	transport, qname, qtype := "udp", "", ""
	if req != nil {
		if req.tcp {
			transport = "tcp"
		}
		qname, qtype = req.q.Name, dns.Type(req.q.Qtype).String()
	} else if _, tcp := w.RemoteAddr().(*net.TCPAddr); tcp {
		transport = "tcp"
	}
	rc := dns.RcodeToString[rcode]
	if rc == "" {
		rc = itoa(rcode)
	}
	h.log.Info("query", "client", w.RemoteAddr().String(), "transport", transport,
		"qname", qname, "qtype", qtype, "rcode", rc, "tc", tc, "size", size)
}
