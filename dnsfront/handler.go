package dnsfront

import (
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
	"github.com/poolnsd/poolnsd/dnsfront/dnsserve"
	"github.com/poolnsd/poolnsd/dnsfront/dnsupdate"
	"github.com/poolnsd/poolnsd/dnsfront/lookup"
	"github.com/poolnsd/poolnsd/dnsfront/msgcheck"
	"github.com/poolnsd/poolnsd/dnsfront/protect"
	"github.com/poolnsd/poolnsd/dnsfront/sigfront"
	"github.com/poolnsd/poolnsd/dnsfront/tsigkey"
	"github.com/poolnsd/poolnsd/dnssec"
	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/internal/ednsopt"
	"github.com/poolnsd/poolnsd/internal/rrl"
	metrics "github.com/poolnsd/poolnsd/metrics/dnsmetrics" // the DNS counters only: see internal/walls
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
	tally    Tally // nil: none (tally.go)
	queryLog atomic.Bool
	sites    atomic.Pointer[siteBox]     // nil: no site map
	prot     atomic.Pointer[Protections] // never nil
	sign     Signer                      // nil: no zone is signed (answer_dnssec.go)
	front    *sigfront.Table[elemWire]   // signatures the wire renderer found, when sign is set
	// cookieCounts counts queries with a COOKIE option, by status.
	cookieCounts protect.CookieCounts

	current func() bool // nil: always current (ready.go)
	cold    coldCounts  // the UDP loops' cold-signature queues (coldsign.go)

	upd   *dnsupdate.Server // DNS UPDATE (NOTIMP without an Updater)
	pacer Pacer             // the registrar's turns (pace.go); nil: none
	keys  *tsigkey.Keyring  // TSIG keys of updates and signed queries
}

var (
	_ dns.Handler      = (*Handler)(nil)
	_ dnsserve.Handler = (*Handler)(nil)
)

// scratch is per-query working memory, recycled through a sync.Pool so that
// an answered query allocates nothing of its own on the fast path.
type scratch struct {
	buf    []byte
	picks  []handlespace.Pick // the policy's choice
	wires  []*elemWire        // their packed records, aligned with picks
	client handlespace.Client
	set    dnssec.RRset             // the RRset a signed wire answer signs (answer_dnssec.go)
	tally  *tallyState              // the answer tally's counting (tally.go), nil: none
	first  *elemWire                // packPool's: the first pick's packed records, for the tally
	hashes []uint64                 // its records' hashes (sigfront's Answer)
	recs   []sigfront.Rec[elemWire] // an SRV answer's records (sigfront's Set)
	cold   *coldQueue               // the UDP loop's queue of answers to sign after the batch (coldsign.go); nil: sign now
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
	h := &Handler{src: src, udpSize: cfg.UDPSize, log: cfg.Logger, metrics: cfg.Metrics, sign: cfg.Signer,
		current: cfg.Current, pacer: cfg.Pacer}
	h.queryLog.Store(cfg.QueryLog)
	if h.sign != nil {
		h.front = sigfront.New[elemWire]()
	}
	h.tally = cfg.Answers
	h.SetSites(cfg.Sites)
	h.SetProtections(cfg.Protect)
	var err error
	if h.keys, err = tsigkey.New(cfg.TSIG); err != nil {
		// Start refuses such a Config; a Handler made directly without
		// Start knows no key, and every signed update is BADKEY.
		cfg.Logger.Error("TSIG keys not used", "err", err.Error())
		h.keys, _ = tsigkey.New(nil)
	}
	h.upd = dnsupdate.New(src, dnsupdate.Config{Updates: cfg.Updates, Keys: h.keys, Lookup: updateLookup, Signals: h.updateSignals,
		Logger: cfg.Logger, Metrics: cfg.Metrics, UDPSize: cfg.UDPSize, Timeout: cfg.UpdateTimeout})
	h.scratch.New = func() any {
		return &scratch{buf: make([]byte, 0, 4096), picks: make([]handlespace.Pick, 0, 64), wires: make([]*elemWire, 0, 64), tally: h.sharedTally()}
	}
	return h
}

// Header bits of the second header word (package msgcheck's).
const (
	bitQR = msgcheck.BitQR
	bitAA = msgcheck.BitAA
	bitTC = msgcheck.BitTC
	bitRD = msgcheck.BitRD
	bitCD = msgcheck.BitCD
)

// PrepareStream implements dnsserve.Handler: miekg/dns's server of a TCP
// or TLS listener reads through msgcheck's Reader (the UDP loops check
// alike, udp.go), which answers UPDATEs itself (update.go), accepts what
// it passed, and verifies and signs the TSIG of queries with the
// handler's keys.
func (h *Handler) PrepareStream(ds *dns.Server) {
	ds.DecorateReader = func(r dns.Reader) dns.Reader {
		return &msgcheck.Reader{Reader: r, UDPSize: h.udpSize, Rejected: h.rejected, Update: h.streamUpdate,
			Idle: ds.IdleTimeout}
	}
	ds.MsgAcceptFunc = msgcheck.Accept
	ds.MsgInvalidFunc = func([]byte, error) {
		// Unreachable: msgcheck's Reader hands on only messages that unpack.
		h.log.Error("internal error: a checked message did not unpack")
	}
	ds.TsigProvider = h.keys
}

// rejected counts a message that msgcheck did not serve.
func (h *Handler) rejected(v msgcheck.Verdict) {
	switch v {
	case msgcheck.Drop:
		h.metrics.Rejected(metrics.RejectIgnored)
	case msgcheck.NotImp:
		h.metrics.Rejected(metrics.RejectNotImp)
	case msgcheck.FormErr:
		h.metrics.Rejected(metrics.RejectFormErr)
	}
}

// SetQueryLog turns the query log (one info line per query) on or off.
func (h *Handler) SetQueryLog(on bool) { h.queryLog.Store(on) }

// SetTSIG replaces the TSIG keys of updates (and signed queries) with
// keys, all at once: the requests after it are verified with the new set.
// If a key is bad (the checks of Config.TSIG), nothing changes and the
// error says which.
func (h *Handler) SetTSIG(keys []Key) error { return h.keys.Set(keys) }

// SetSites replaces the site map of the nearest policy (nil, or a finder
// of no site: none); the queries after it use the new one.
func (h *Handler) SetSites(m SiteFinder) {
	if m == nil || m.Len() == 0 {
		h.sites.Store(nil)
		return
	}
	h.sites.Store(&siteBox{m})
}

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
			h.answerPanic(w, r, p)
		}
	}()
	if r.Opcode == dns.OpcodeUpdate {
		h.upd.ServeUpdate(w, r)
		return
	}
	if len(r.Question) != 1 {
		h.reply(w, r, nil, dns.RcodeFormatError)
		return
	}
	var qo protect.QueryOpts
	req := newRequest(w, r, h.queryLog.Load(), &qo)
	req.Prot = h.prot.Load()
	req.setMaxSize(h.udpSize)
	if signedQuery(r) && !h.checkSigned(w, r, &req) {
		return
	}
	h.serveQuery(w, &req, &qo)
}

// answerPanic logs a panic p while answering r and answers SERVFAIL, with
// Extended DNS Error 0 (Other) when r had an OPT record.
func (h *Handler) answerPanic(w dns.ResponseWriter, r *dns.Msg, p any) {
	h.log.Error("internal error answering query; answered SERVFAIL", "panic", p)
	m := new(dns.Msg)
	m.SetRcode(r, dns.RcodeServerFailure)
	if opt := r.IsEdns0(); opt != nil {
		m.SetEdns0(uint16(h.udpSize), opt.Do())
		ednsopt.AddEDE(m, ednsopt.Other, "internal error")
	}
	var req *request
	if len(r.Question) == 1 {
		rq := newRequest(w, r, h.queryLog.Load(), nil)
		req = &rq
	}
	h.account(w, req, dns.RcodeServerFailure, false, m.Len())
	w.WriteMsg(m)
}

// serveQuery answers a query whose request is read: its checks, the
// lookup, the rate limit and the renderer.
func (h *Handler) serveQuery(w dns.ResponseWriter, req *request, qo *protect.QueryOpts) {
	if req.edns.on && req.edns.version != 0 {
		h.reply(w, req.r, req, dns.RcodeBadVers)
		return
	}
	if rcode := req.Admit(&req.client, req.tcp, qo, &h.cookieCounts); rcode >= 0 {
		h.errorReply(w, req, rcode)
		return
	}
	switch req.q.Qtype {
	case dns.TypeOPT, dns.TypeTSIG, dns.TypeTKEY:
		req.SetEDE(ednsopt.NotSupported)
		h.errorReply(w, req, dns.RcodeFormatError)
		return
	case dns.TypeMAILA, dns.TypeMAILB:
		req.SetEDE(ednsopt.NotSupported)
		h.errorReply(w, req, dns.RcodeNotImplemented)
		return
	case dnssec.TypeNXNAME: // RFC 9824 §3.5, with or without DO
		req.SetEDE(ednsopt.InvalidQueryType)
		h.errorReply(w, req, dns.RcodeFormatError)
		return
	}
	switch req.q.Qclass {
	case dns.ClassINET, dns.ClassANY:
	case dns.ClassCHAOS:
		h.writeChaos(w, req)
		return
	default:
		req.SetEDE(ednsopt.NotSupported)
		h.errorReply(w, req, dns.RcodeRefused)
		return
	}
	if h.held(w, req) {
		return
	}
	req.qname = lower(req.q.Name)
	var res Result
	Lookup(h.src.View(), req.q.Name, req.qname, req.q.Qtype, &res)
	h.answer(w, req, &res)
}

// answer writes the reply of a lookup result, unless the rate limit drops
// it or makes it a truncated (or BADCOOKIE) one.
func (h *Handler) answer(w dns.ResponseWriter, req *request, res *Result) {
	if lookup.MayBeSignal(res.Kind) && h.sign != nil && strings.IndexByte(req.qname, '_') >= 0 {
		lookup.Signal(h.src.View(), req.qname, res, h.sign) // RFC 9615's, in a signed zone
	}
	class, name := rrlClass(res)
	switch req.Limit(&req.client, req.tcp, req.q.Qtype, class, name) {
	case rrl.Drop:
		return // counted by the limiter
	case rrl.Slip:
		h.slip(w, req)
		return
	}
	if res.Kind == KindRefused {
		req.SetEDE(ednsopt.NotAuthoritative)
	}
	if h.sign != nil && (req.edns.do || askedDNSSEC(req.q.Qtype)) {
		if z := h.signerOf(res); z != nil {
			if req.edns.do && (res.Kind == KindPool || res.Kind == KindElement) && len(res.Chain) == 0 &&
				h.writeWireDNSSEC(w, req, res, z) {
				return
			}
			h.writeDNSSEC(w, req, res, z, req.edns.do)
			return
		}
	}
	if (res.Kind == KindPool || res.Kind == KindElement) && len(res.Chain) == 0 && h.writeWire(w, req, res) {
		return
	}
	h.writeMsg(w, req, res)
}

// errorReply answers req with an error rcode (and the rate limit's say over
// UDP, in the errors' class).
func (h *Handler) errorReply(w dns.ResponseWriter, req *request, rcode int) {
	switch req.Limit(&req.client, req.tcp, req.q.Qtype, rrl.Error, "") {
	case rrl.Drop:
		return // counted by the limiter
	case rrl.Slip:
		h.slip(w, req)
		return
	}
	h.reply(w, req.r, req, rcode)
}

// slip answers a reply that the rate limit cut with TC=1 and no records,
// so that a real client asks again over TCP, or, to a client that speaks
// cookies without a valid one, BADCOOKIE with a fresh cookie.
func (h *Handler) slip(w dns.ResponseWriter, req *request) {
	if req.SlipBadCookie {
		h.reply(w, req.r, req, dns.RcodeBadCookie)
		return
	}
	m := replyMsg(req)
	m.Truncated = true
	req.Slipped = true // counted by the rate limiter, not as truncated
	if req.edns.on {
		setOPT(m, req, h.udpSize, -1)
	}
	h.write(w, m, req)
}

// writeChaos answers a CHAOS-class query: this registrar's identity.
func (h *Handler) writeChaos(w dns.ResponseWriter, req *request) {
	rcode, rr := req.Chaos(req.q)
	if rcode != dns.RcodeSuccess {
		h.errorReply(w, req, rcode)
		return
	}
	m := replyMsg(req)
	m.Authoritative = true
	if rr != nil {
		m.Answer = append(m.Answer, rr)
	}
	if req.edns.on {
		setOPT(m, req, h.udpSize, -1)
	}
	h.write(w, m, req)
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
	if tc && (req == nil || !req.Slipped) {
		h.metrics.Truncated()
	}
	if (req != nil && req.logq) || (req == nil && h.queryLog.Load()) {
		h.logQuery(w, req, rcode, tc, size)
	}
}

// logQuery writes the query log line of one reply.
func (h *Handler) logQuery(w dns.ResponseWriter, req *request, rcode int, tc bool, size int) {
	transport, qname, qtype, client := "udp", "", "", ""
	if req != nil {
		if req.tcp {
			transport = "tcp"
		}
		qname, qtype, client = req.q.Name, dns.Type(req.q.Qtype).String(), req.client.String()
	} else {
		if _, tcp := w.RemoteAddr().(*net.TCPAddr); tcp {
			transport = "tcp"
		}
		client = w.RemoteAddr().String()
	}
	rc := dns.RcodeToString[rcode]
	if rc == "" {
		rc = itoa(rcode)
	}
	h.log.Info("query", "client", client, "transport", transport,
		"qname", qname, "qtype", qtype, "rcode", rc, "tc", tc, "size", size)
}
