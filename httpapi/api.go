package httpapi

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/poolnsd/poolnsd/handlespace"
)

// ProbeStatus is the last probe result of an element.
type ProbeStatus struct {
	At  time.Time     // when the probe finished
	OK  bool          // whether it passed
	Err string        // why it failed; "" when it passed
	RTT time.Duration // how long it took
	// SRTT is the smoothed RTT of the element's passing probes, 0 if
	// unknown. It is fresher than the element's RTT in the view, which
	// the prober publishes only where a policy uses it.
	SRTT time.Duration
}

// ReportOutcome is what a failure report did.
type ReportOutcome struct {
	// Reports is how many reports for the element the backend counts now
	// (within its window).
	Reports int
	// Removed is true when the element is out of the answers because of
	// reports.
	Removed bool
	// Forwarded, with peering, is the element's home registrar when the
	// report was passed on to it (the element is homed elsewhere): the
	// home counts it, and Reports is 0 here; 0 when counted here.
	Forwarded uint32
}

// ErrRateLimited is what Backend.Report returns (or wraps) when the client
// has sent more reports than its rate allows. The reply is 429 with
// Retry-After: a RateLimitError's RetryAfter, else one second.
var ErrRateLimited = errors.New("httpapi: too many failure reports from this client")

// RateLimitError is a rate-limit refusal that says when to retry. It
// matches ErrRateLimited under errors.Is.
type RateLimitError struct {
	RetryAfter time.Duration
}

func (e *RateLimitError) Error() string {
	return fmt.Sprintf("%v; retry after %v", ErrRateLimited, e.RetryAfter)
}

// Is makes errors.Is(err, ErrRateLimited) true.
func (e *RateLimitError) Is(target error) bool { return target == ErrRateLimited }

// HomeError is Backend.SetAdmin's (and Report's) error when the change
// had to be made at the element's home registrar (another one, with
// peering) and could not be: the home is dead or not connected (Status
// 503), refused it (409 when its view of the element differs, 503 when it
// could not carry it out), or did not confirm it in time (504). The reply
// has that status, the message and the home's ID.
type HomeError struct {
	Status int
	Home   uint32
	Msg    string
}

func (e *HomeError) Error() string { return e.Msg }

// Backend is what the API serves. pool arguments are pool names as
// handlespace writes them: lower-case FQDNs (web.pool.example.). Errors that
// are or wrap handlespace.ErrNoPool, ErrNoZone or ErrNoElement become 404,
// ErrRateLimited 429, a *HomeError its status, anything else 500.
type Backend interface {
	// View returns the current handlespace view.
	View() *handlespace.View
	// ProbeStatus returns the last probe result of an element, if it has
	// one.
	ProbeStatus(pool string, id uint32) (ProbeStatus, bool)
	// Report takes a pool user's failure report for an element from the
	// client at from.
	Report(pool string, id uint32, from netip.Addr) (ReportOutcome, error)
	// SetAdmin sets an element's administrative state and publishes it
	// before it returns. With peering, an element homed at another
	// registrar is changed there: SetAdmin returns once this registrar's
	// view shows the home's change, or fails with a *HomeError.
	SetAdmin(pool string, id uint32, a handlespace.Admin) error
}

// Config configures the API. Zero values have defaults.
type Config struct {
	// Token is the bearer token of the write endpoints. Empty: the write
	// endpoints answer 403 (failure reports: unless ReportToken or
	// ReportAllow lets them in).
	Token string
	// ReportToken is a bearer token that the failure-report endpoint
	// takes besides Token, and no other endpoint does: the credential of
	// pool users, which cannot drain. Empty: none.
	ReportToken string
	// ReportAllow are the client prefixes whose failure reports need no
	// token. Reports are rate-limited per client all the same (by the
	// Backend).
	ReportAllow []netip.Prefix
	// Logger gets a line per refused authentication (warn), per admin
	// change (info), per failure report (debug) and per internal error
	// (error); default slog.Default().
	Logger *slog.Logger
	// Now is the clock for the leases' time left (default time.Now).
	// Testing.
	Now func() time.Time
	// Registrar, when set, serves the registration endpoints (PUT and
	// DELETE /v1/pools/{pool}/elements/{pe}, see register.go).
	Registrar Registrar
	// AllowLoopback lets registrations have loopback addresses; off, they
	// are refused with 400 (the registrar refuses them too, with its own
	// AllowLoopback: give both the same).
	AllowLoopback bool
	// History, when set, serves GET /v1/history and GET /v1/peers
	// (history.go); without it they answer 404.
	History History
	// AuthRefused, when set, is called for each write refused with 401 (no
	// or a wrong bearer token); registration is true on the registration
	// endpoints. For the metrics.
	AuthRefused func(registration bool)
}

// maxBody is the largest request body read: the bodies are a few fields.
const maxBody = 64 << 10

type api struct {
	b      Backend
	token  [sha256.Size]byte // hash of the token, compared in constant time
	hasTok bool
	// The report-only token's hash, and the prefixes that report
	// without a token.
	reportTok    [sha256.Size]byte
	hasReportTok bool
	reportAllow  []netip.Prefix
	log          *slog.Logger
	now          func() time.Time
	// refused is Config.AuthRefused (never nil).
	refused func(registration bool)
	// loopback is Config.AllowLoopback.
	loopback bool
	// hist is Config.History, nil if none.
	hist History
}

// NewHandler returns the API's handler over b.
func NewHandler(b Backend, cfg Config) http.Handler {
	a := &api{b: b, log: cfg.Logger, now: cfg.Now, refused: cfg.AuthRefused, loopback: cfg.AllowLoopback, hist: cfg.History}
	if a.refused == nil {
		a.refused = func(bool) {}
	}
	if a.log == nil {
		a.log = slog.Default()
	}
	if a.now == nil {
		a.now = time.Now
	}
	if cfg.Token != "" {
		a.token, a.hasTok = sha256.Sum256([]byte(cfg.Token)), true
	}
	if cfg.ReportToken != "" {
		a.reportTok, a.hasReportTok = sha256.Sum256([]byte(cfg.ReportToken)), true
	}
	for _, p := range cfg.ReportAllow {
		a.reportAllow = append(a.reportAllow, p.Masked())
	}
	mux := http.NewServeMux()
	route := func(method, path string, h http.HandlerFunc) {
		mux.HandleFunc(method+" "+path, h)
		allow := method
		if method == http.MethodGet {
			allow = "GET, HEAD"
		}
		mux.HandleFunc(path, notAllowed(allow, method))
	}
	route(http.MethodGet, "/healthz", a.healthz)
	route(http.MethodGet, "/v1/pools", a.listPools)
	route(http.MethodGet, "/v1/pools/{pool}", a.getPool)
	route(http.MethodGet, "/v1/status", a.status) // status.go
	// history.go
	route(http.MethodGet, "/v1/history", a.history)
	route(http.MethodGet, "/v1/peers", a.peers)
	route(http.MethodPost, "/v1/pools/{pool}/reports", a.reporter(a.report))
	route(http.MethodPut, "/v1/pools/{pool}/elements/{pe}/admin", a.write(a.setAdmin))
	if cfg.Registrar != nil {
		a.registerRoutes(mux, cfg.Registrar)
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, http.StatusNotFound, fmt.Sprintf("no such endpoint %s", r.URL.Path))
	})
	return mux
}

// notAllowed answers a method that its path does not serve: 405 as JSON
// (ServeMux's own 405 is plain text), with the Allow header allow and use
// naming the methods in the message.
func notAllowed(allow, use string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", allow)
		writeError(w, r, http.StatusMethodNotAllowed, fmt.Sprintf("method %s not allowed; use %s", r.Method, use))
	}
}

func (a *api) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, r, http.StatusOK, map[string]string{"status": "ok"})
}

// write wraps a write endpoint: it checks the bearer token first, before
// anything about the pool is looked up.
func (a *api) write(h http.HandlerFunc) http.HandlerFunc { return a.writeOf(false, h) }

// writeOf is write for a registration endpoint (registration true) or
// another.
func (a *api) writeOf(registration bool, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !a.hasTok {
			writeError(w, r, http.StatusForbidden, "write endpoints are disabled: set http.token to enable them")
			return
		}
		tok, ok := bearer(r)
		if !ok {
			a.log.Warn("http api: write refused: no bearer token", "method", r.Method, "path", r.URL.Path, "remote", r.RemoteAddr)
			w.Header().Set("WWW-Authenticate", `Bearer realm="poolnsd"`)
			writeError(w, r, http.StatusUnauthorized, "this endpoint needs an Authorization: Bearer token")
			a.refused(registration)
			return
		}
		sum := sha256.Sum256([]byte(tok))
		if subtle.ConstantTimeCompare(sum[:], a.token[:]) != 1 {
			a.log.Warn("http api: write refused: wrong bearer token", "method", r.Method, "path", r.URL.Path, "remote", r.RemoteAddr)
			w.Header().Set("WWW-Authenticate", `Bearer realm="poolnsd", error="invalid_token"`)
			writeError(w, r, http.StatusUnauthorized, "wrong bearer token")
			a.refused(registration)
			return
		}
		h(w, r)
	}
}

// reporter wraps the failure-report endpoint: a client in ReportAllow
// needs no token; any other needs Token or ReportToken. Without either
// token and outside ReportAllow (or with nothing configured) it is 403.
func (a *api) reporter(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		from := clientAddr(r)
		for _, p := range a.reportAllow {
			if from.IsValid() && p.Contains(from) {
				h(w, r)
				return
			}
		}
		if !a.hasTok && !a.hasReportTok {
			msg := "failure reports are disabled: set http.token, http.report_token (the pool users' token) or reports.allow (their addresses)"
			if len(a.reportAllow) > 0 {
				msg = fmt.Sprintf("failure reports from %s are refused: the address is not in reports.allow, and no token is configured (http.report_token)", from)
			}
			writeError(w, r, http.StatusForbidden, msg)
			return
		}
		tok, ok := bearer(r)
		if !ok {
			a.log.Warn("http api: failure report refused: no bearer token", "path", r.URL.Path, "remote", r.RemoteAddr)
			w.Header().Set("WWW-Authenticate", `Bearer realm="poolnsd"`)
			writeError(w, r, http.StatusUnauthorized, "this endpoint needs an Authorization: Bearer token (http.report_token or http.token) from an address outside reports.allow")
			a.refused(false)
			return
		}
		sum := sha256.Sum256([]byte(tok))
		// Both compared, in constant time, whichever matches.
		admin := a.hasTok && subtle.ConstantTimeCompare(sum[:], a.token[:]) == 1
		report := a.hasReportTok && subtle.ConstantTimeCompare(sum[:], a.reportTok[:]) == 1
		if !admin && !report {
			a.log.Warn("http api: failure report refused: wrong bearer token", "path", r.URL.Path, "remote", r.RemoteAddr)
			w.Header().Set("WWW-Authenticate", `Bearer realm="poolnsd", error="invalid_token"`)
			writeError(w, r, http.StatusUnauthorized, "wrong bearer token")
			a.refused(false)
			return
		}
		h(w, r)
	}
}

// bearer returns the token of an "Authorization: Bearer TOKEN" header.
func bearer(r *http.Request) (string, bool) {
	// r.Header.Get("Authorization") without canonicalising the constant
	// key (a tenth of a PUT's header work): net/http canonicalises the
	// keys it reads.
	var h string
	if v := r.Header["Authorization"]; len(v) > 0 {
		h = v[0]
	}
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}

// lookupError is an error reply from looking up a pool or an element.
type lookupError struct {
	status     int
	msg        string
	candidates []string // for an ambiguous handle
}

// findPool resolves {pool}: a name (any case, final dot optional) or a bare
// handle that exactly one zone has.
func findPool(v *handlespace.View, s string) (*handlespace.PoolView, *lookupError) {
	if v == nil {
		return nil, &lookupError{status: http.StatusNotFound, msg: fmt.Sprintf("no such pool %q", s)}
	}
	name := strings.ToLower(s)
	if name == "" || name == "." || strings.Contains(name, "..") {
		return nil, &lookupError{status: http.StatusBadRequest, msg: fmt.Sprintf("bad pool name %q", s)}
	}
	fqdn := name
	if !strings.HasSuffix(fqdn, ".") {
		fqdn += "."
	}
	if handle, parent, ok := strings.Cut(fqdn, "."); ok && parent != "" {
		if z := v.Zone(parent); z != nil {
			if pv := z.Pool(handle); pv != nil {
				return pv, nil
			}
		}
	} else if ok {
		// A one-label name: a pool directly under a root zone.
		if z := v.Zone("."); z != nil {
			if pv := z.Pool(strings.TrimSuffix(fqdn, ".")); pv != nil {
				return pv, nil
			}
		}
	}
	if !strings.Contains(name, ".") {
		var found []*handlespace.PoolView
		for _, z := range v.Zones() {
			if pv := z.Pool(name); pv != nil {
				found = append(found, pv)
			}
		}
		switch len(found) {
		case 1:
			return found[0], nil
		case 0:
		default:
			names := make([]string, len(found))
			for i, pv := range found {
				names[i] = pv.Name
			}
			slices.Sort(names)
			return nil, &lookupError{
				status:     http.StatusConflict,
				msg:        fmt.Sprintf("pool handle %q is in %d zones; name the pool in full: %s", name, len(names), strings.Join(names, ", ")),
				candidates: names,
			}
		}
	}
	return nil, &lookupError{status: http.StatusNotFound, msg: fmt.Sprintf("no such pool %q", s)}
}

// findElement resolves {pe}: an identifier (8 hex digits) or a label.
func findElement(pv *handlespace.PoolView, s string) (*handlespace.Element, *lookupError) {
	if id, err := handlespace.ParseID(s); err == nil {
		if e := pv.Element(id); e != nil {
			return e, nil
		}
	}
	label := strings.ToLower(s)
	if e := pv.Label(label); e != nil {
		return e, nil
	}
	if len(label) == 0 || len(label) > 63 || strings.ContainsAny(label, ". \t\\") {
		return nil, &lookupError{status: http.StatusBadRequest, msg: fmt.Sprintf("bad element %q; want its identifier (8 hex digits) or its label", s)}
	}
	return nil, &lookupError{status: http.StatusNotFound, msg: fmt.Sprintf("pool %s has no element %q", pv.Name, s)}
}

// findByAddress finds the element that serves on addr:port.
func findByAddress(pv *handlespace.PoolView, ap netip.AddrPort) *handlespace.Element {
	addr := ap.Addr().Unmap()
	for e := range pv.Range() {
		if e.Port != ap.Port() {
			continue
		}
		for _, a := range e.Addrs.All() {
			if a.Unmap() == addr {
				return e
			}
		}
	}
	return nil
}

// pool looks up {pool}, writing the error reply if there is none.
func (a *api) pool(w http.ResponseWriter, r *http.Request) *handlespace.PoolView {
	pv, lerr := findPool(a.b.View(), r.PathValue("pool"))
	if lerr != nil {
		writeLookupError(w, r, lerr)
		return nil
	}
	return pv
}

// poolElement looks up {pool} and its element {pe}, writing the error reply
// if there is none.
func (a *api) poolElement(w http.ResponseWriter, r *http.Request) (*handlespace.PoolView, *handlespace.Element) {
	pv := a.pool(w, r)
	if pv == nil {
		return nil, nil
	}
	e, lerr := findElement(pv, r.PathValue("pe"))
	if lerr != nil {
		writeLookupError(w, r, lerr)
		return nil, nil
	}
	return pv, e
}

func (a *api) listPools(w http.ResponseWriter, r *http.Request) {
	out := poolList{Pools: []PoolJSON{}}
	if v := a.b.View(); v != nil {
		for _, z := range v.Zones() {
			for _, h := range z.PoolHandles() {
				if pv := z.Pool(h); pv != nil {
					out.Pools = append(out.Pools, poolSummary(pv))
				}
			}
		}
	}
	slices.SortFunc(out.Pools, func(x, y PoolJSON) int { return strings.Compare(x.Name, y.Name) })
	writeJSON(w, r, http.StatusOK, out)
}

func (a *api) getPool(w http.ResponseWriter, r *http.Request) {
	pv := a.pool(w, r)
	if pv == nil {
		return
	}
	writeJSON(w, r, http.StatusOK, a.poolDetail(pv))
}

// reportRequest is the body of POST /v1/pools/{pool}/reports: the element
// by its identifier or label, or by the address and port the client used.
type reportRequest struct {
	Element string `json:"element"`
	Address string `json:"address"`
}

func (a *api) report(w http.ResponseWriter, r *http.Request) {
	var req reportRequest
	if !decodeBody(w, r, &req, "element or address") {
		return
	}
	switch {
	case req.Element == "" && req.Address == "":
		writeError(w, r, http.StatusBadRequest, `name the element: {"element": "0a1b2c3d"} (identifier or label) or {"address": "192.0.2.10:8080"}`)
		return
	case req.Element != "" && req.Address != "":
		writeError(w, r, http.StatusBadRequest, "give element or address, not both")
		return
	}
	var ap netip.AddrPort
	var err error
	if req.Element == "" {
		ap, err = netip.ParseAddrPort(req.Address)
	}
	if err != nil {
		writeError(w, r, http.StatusBadRequest, fmt.Sprintf("bad address %q; want ADDR:PORT, IPv6 as [ADDR]:PORT", req.Address))
		return
	}
	pv := a.pool(w, r)
	if pv == nil {
		return
	}
	var e *handlespace.Element
	if req.Element != "" {
		var lerr *lookupError
		if e, lerr = findElement(pv, req.Element); lerr != nil {
			writeLookupError(w, r, lerr)
			return
		}
	} else if e = findByAddress(pv, ap); e == nil {
		writeError(w, r, http.StatusNotFound, fmt.Sprintf("pool %s has no element at %s", pv.Name, ap))
		return
	}
	from := clientAddr(r)
	out, err := a.b.Report(pv.Name, e.ID, from)
	if err != nil {
		if errors.Is(err, ErrRateLimited) {
			retry := time.Second
			var rl *RateLimitError
			if errors.As(err, &rl) && rl.RetryAfter > retry {
				retry = rl.RetryAfter
			}
			secs := (retry + time.Second - 1) / time.Second
			w.Header().Set("Retry-After", fmt.Sprint(int64(secs)))
			writeError(w, r, http.StatusTooManyRequests, fmt.Sprintf("too many failure reports from %s; retry after %ds", from, secs))
			return
		}
		a.backendError(w, r, err)
		return
	}
	a.log.Debug("http api: failure report", "pool", pv.Name, "element", handlespace.IDString(e.ID),
		"from", from.String(), "reports", out.Reports, "removed", out.Removed)
	rep := reportJSON{
		Pool:    pv.Name,
		Element: handlespace.IDString(e.ID),
		Reports: out.Reports,
		Removed: out.Removed,
	}
	if out.Forwarded != 0 {
		rep.Forwarded = handlespace.IDString(out.Forwarded)
	}
	writeJSON(w, r, http.StatusAccepted, rep)
}

// clientAddr is the address of the request's peer (the zero Addr if it has
// none, as on a Unix socket).
func clientAddr(r *http.Request) netip.Addr {
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		return ap.Addr().Unmap()
	}
	if a, err := netip.ParseAddr(r.RemoteAddr); err == nil {
		return a.Unmap()
	}
	return netip.Addr{}
}

// adminRequest is the body of PUT /v1/pools/{pool}/elements/{pe}/admin.
type adminRequest struct {
	State string `json:"state"`
}

func (a *api) setAdmin(w http.ResponseWriter, r *http.Request) {
	var req adminRequest
	if !decodeBody(w, r, &req, "state") {
		return
	}
	if req.State == "" {
		writeError(w, r, http.StatusBadRequest, `missing state; want {"state": "auto" | "drain" | "force-down"}`)
		return
	}
	st, err := handlespace.ParseAdmin(req.State)
	if err != nil {
		writeError(w, r, http.StatusBadRequest, err.Error())
		return
	}
	pv, e := a.poolElement(w, r)
	if e == nil {
		return
	}
	if err := a.b.SetAdmin(pv.Name, e.ID, st); err != nil {
		a.backendError(w, r, err)
		return
	}
	a.log.Info("http api: admin state set", "pool", pv.Name, "element", handlespace.IDString(e.ID),
		"state", st.String(), "remote", r.RemoteAddr)
	// Reply with the element as the view now has it.
	npv, lerr := findPool(a.b.View(), pv.Name)
	if lerr != nil {
		writeLookupError(w, r, lerr)
		return
	}
	ne := npv.Element(e.ID)
	if ne == nil {
		writeError(w, r, http.StatusNotFound, fmt.Sprintf("pool %s has no element %s", pv.Name, handlespace.IDString(e.ID)))
		return
	}
	writeJSON(w, r, http.StatusOK, a.element(npv, ne))
}

// backendError writes the reply for an error of the backend.
func (a *api) backendError(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, handlespace.ErrNoPool), errors.Is(err, handlespace.ErrNoZone):
		writeError(w, r, http.StatusNotFound, "no such pool")
	case errors.Is(err, handlespace.ErrNoElement):
		writeError(w, r, http.StatusNotFound, "no such pool element")
	case errors.As(err, new(*HomeError)):
		var he *HomeError
		errors.As(err, &he)
		a.log.Warn("http api: request not carried out at the element's home", "method", r.Method, "path", r.URL.Path,
			"home", handlespace.IDString(he.Home), "err", he.Msg)
		writeJSON(w, r, he.Status, ErrorJSON{Error: he.Msg, Home: handlespace.IDString(he.Home)})
	default:
		a.log.Error("http api: backend error", "method", r.Method, "path", r.URL.Path, "err", err)
		writeError(w, r, http.StatusInternalServerError, err.Error())
	}
}
