package httpapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/poolnsd/poolnsd/handlespace"
	_ "github.com/poolnsd/poolnsd/handlespace/policy" // the policies register themselves
	"github.com/poolnsd/poolnsd/regcommit"
)

// Registration endpoints (with the bearer token):
//
//	PUT    /v1/pools/{pool}/elements/{pe}   register or update (and refresh) element {pe}
//	DELETE /v1/pools/{pool}/elements/{pe}   deregister it
//
// They take the same path as DNS UPDATE: the registrar, which makes the
// change durable (bbolt, fsync) before the reply.

// Registrar is what the registration endpoints use. *regcommit.Committer
// is one.
type Registrar interface {
	// Allow reports whether the source may send another registration now.
	Allow(from netip.Addr) bool
	// Submit applies a request and returns once it is durable, or failed
	// and changed nothing. It keeps nothing of req once it has returned
	// without an error (the API reuses its requests).
	Submit(ctx context.Context, req *regcommit.Request) (regcommit.Result, error)
}

var _ Registrar = (*regcommit.Committer)(nil)

// registerTimeout bounds how long a registration waits for its commit.
const registerTimeout = 10 * time.Second

// registerRequest is the body of PUT /v1/pools/{pool}/elements/{pe}.
type registerRequest struct {
	Addresses []string `json:"addresses"`
	Port      uint16   `json:"port"`
	Transport string   `json:"transport"` // tcp (default), udp, sctp
	Weight    uint32   `json:"weight"`
	Prio      uint32   `json:"prio"`
	Load      float64  `json:"load"`    // 0..1
	LoadDeg   float64  `json:"loaddeg"` // 0..1
	Site      string   `json:"site"`
	Policy    string   `json:"policy"` // "" any; a pool that does not exist is created with it
	Lease     float64  `json:"lease"`  // seconds; 0 the default
}

const registerFields = "addresses, port, transport, weight, prio, load, loaddeg, site, policy, lease"

// registerJSON is the reply of PUT.
type registerJSON struct {
	Pool    string      `json:"pool"`
	Created bool        `json:"created"`
	LeaseS  float64     `json:"lease_s"` // the granted lease
	Element ElementJSON `json:"element"`
}

// deregisterJSON is the reply of DELETE.
type deregisterJSON struct {
	Pool    string `json:"pool"`
	Element string `json:"element"` // identifier
	Label   string `json:"label"`
	Deleted bool   `json:"deleted"`
}

// registerRoutes adds the registration endpoints to mux.
func (a *api) registerRoutes(mux *http.ServeMux, reg Registrar) {
	const path = "/v1/pools/{pool}/elements/{pe}"
	mux.HandleFunc(http.MethodPut+" "+path, a.writeOf(true, func(w http.ResponseWriter, r *http.Request) { a.putElement(w, r, reg) }))
	mux.HandleFunc(http.MethodDelete+" "+path, a.writeOf(true, func(w http.ResponseWriter, r *http.Request) { a.deleteElement(w, r, reg) }))
	mux.HandleFunc(path, notAllowed("PUT, DELETE", "PUT or DELETE"))
}

// targetPool resolves {pool} for a registration, which may create the
// pool: a name whose parent is a served zone, or a bare handle of a pool
// that one zone has (or, when one zone is served, a new pool in it).
func targetPool(v *handlespace.View, s string) (string, *lookupError) {
	if pv, lerr := findPool(v, s); lerr == nil {
		return pv.Name, nil
	} else if lerr.status != http.StatusNotFound {
		return "", lerr
	}
	name := strings.ToLower(strings.TrimSuffix(s, ".")) + "."
	if handle, parent, ok := strings.Cut(name, "."); ok && parent != "" && handle != "" {
		if v.Zone(parent) != nil {
			return name, nil
		}
		return "", &lookupError{status: http.StatusNotFound, msg: fmt.Sprintf("no served zone %s for pool %q", parent, s)}
	}
	zs := v.Zones()
	if len(zs) == 1 && !strings.Contains(strings.TrimSuffix(name, "."), ".") {
		return strings.TrimSuffix(name, ".") + "." + zs[0].Origin, nil
	}
	return "", &lookupError{status: http.StatusNotFound, msg: fmt.Sprintf("no pool %q, and %d zones are served; name the pool in full (handle.zone)", s, len(zs))}
}

// allowed reports whether the client may register now (registration.rate);
// if not, it writes the 429 reply.
func allowed(w http.ResponseWriter, r *http.Request, reg Registrar) bool {
	from := clientAddr(r)
	if reg.Allow(from) {
		return true
	}
	w.Header().Set("Retry-After", "1")
	writeError(w, r, http.StatusTooManyRequests, fmt.Sprintf("too many registrations from %s (registration.rate); retry later", from))
	return false
}

func (a *api) putElement(w http.ResponseWriter, r *http.Request, reg Registrar) {
	if !allowed(w, r, reg) {
		return
	}
	turn(reg)
	var req registerRequest
	if !decodeRegister(w, r, &req) {
		return
	}
	e := &handlespace.Element{Port: req.Port, Weight: req.Weight, Priority: req.Prio}
	switch {
	case len(req.Addresses) == 0:
		writeError(w, r, http.StatusBadRequest, `missing addresses; want {"addresses": ["192.0.2.10"], "port": 8080}`)
		return
	case req.Port == 0:
		writeError(w, r, http.StatusBadRequest, "missing port (1..65535)")
		return
	case !(req.Load >= 0 && req.Load <= 1), !(req.LoadDeg >= 0 && req.LoadDeg <= 1):
		writeError(w, r, http.StatusBadRequest, "load and loaddeg are fractions 0..1")
		return
	case !(req.Lease >= 0 && req.Lease <= 1e9):
		writeError(w, r, http.StatusBadRequest, "lease is in seconds, 0 (the default) or more")
		return
	case len(req.Site) > 64:
		writeError(w, r, http.StatusBadRequest, "site is longer than 64 bytes")
		return
	}
	// Interned once the request is known good: a refused one keeps
	// nothing.
	site, err := handlespace.SiteNameFor(req.Site)
	if err != nil {
		writeError(w, r, http.StatusInsufficientStorage, "site: "+err.Error())
		return
	}
	e.Site = site
	for i, s := range req.Addresses {
		ad, err := netip.ParseAddr(s)
		if err != nil || ad.Zone() != "" {
			writeError(w, r, http.StatusBadRequest, fmt.Sprintf("addresses[%d]: bad address %q; want an IPv4 or IPv6 address", i, s))
			return
		}
		if err := handlespace.CheckAddr(ad, a.loopback); err != nil {
			msg := fmt.Sprintf("addresses[%d]: %v", i, err)
			if errors.Is(err, handlespace.ErrLoopback) {
				msg += "; registration.allow_loopback allows it"
			}
			writeError(w, r, http.StatusBadRequest, msg)
			return
		}
		e.Addrs = e.Addrs.Append(ad.Unmap())
	}
	if req.Transport != "" {
		t, err := handlespace.ParseTransport(req.Transport)
		if err != nil {
			writeError(w, r, http.StatusBadRequest, err.Error())
			return
		}
		e.Transport = t
	}
	if req.Policy != "" {
		if _, err := handlespace.NewPolicy(req.Policy, nil); err != nil {
			writeError(w, r, http.StatusBadRequest, err.Error())
			return
		}
	}
	e.Load, e.LoadDeg = handlespace.LoadFromFraction(req.Load), handlespace.LoadFromFraction(req.LoadDeg)
	pool, lerr := targetPool(a.b.View(), r.PathValue("pool"))
	if lerr != nil {
		writeLookupError(w, r, lerr)
		return
	}
	if err := handlespace.CheckPoolName(pool); err != nil {
		writeError(w, r, http.StatusBadRequest, fmt.Sprintf("pool: bad pool name %q: %v", r.PathValue("pool"), err))
		return
	}
	label := strings.ToLower(r.PathValue("pe"))
	if err := handlespace.CheckLabel(label); err != nil {
		writeError(w, r, http.StatusBadRequest, fmt.Sprintf("element: bad element label: %v", err))
		return
	}
	if err := handlespace.CheckElementName(pool, label); err != nil {
		writeError(w, r, http.StatusBadRequest, "element: "+err.Error())
		return
	}
	change := regcommit.Change{Pool: pool, Label: label, Elem: e, Give: true, Policy: req.Policy,
		Lease: time.Duration(req.Lease * float64(time.Second))}
	res, ok := a.submit(w, r, reg, pool, label, change)
	if !ok {
		return
	}
	d := res.Done[0]
	pv, lerr := findPool(a.b.View(), pool)
	if lerr != nil {
		writeLookupError(w, r, lerr)
		return
	}
	ne := pv.Element(d.ID)
	if ne == nil { // removed again in between
		writeError(w, r, http.StatusConflict, fmt.Sprintf("element %s of %s was removed meanwhile", label, pool))
		return
	}
	// A new element at Info, a refresh or update at Debug, as the
	// committer logs them: clients refresh by the thousand a second.
	level := slog.LevelDebug
	if d.Created {
		level = slog.LevelInfo
	}
	if a.log.Enabled(r.Context(), level) {
		a.log.Log(r.Context(), level, "http api: registered", "pool", pool, "element", handlespace.IDString(d.ID), "name", label,
			"lease", res.Lease.String(), "created", d.Created, "remote", r.RemoteAddr)
	}
	status := http.StatusOK
	if d.Created {
		status = http.StatusCreated
	}
	reply := registerReplies.Get().(*registerJSON)
	*reply = registerJSON{Pool: pool, Created: d.Created, LeaseS: res.Lease.Seconds(), Element: a.element(pv, ne)}
	writeRegister(w, r, status, reply)
	*reply = registerJSON{}
	registerReplies.Put(reply)
}

// registerReplies holds the replies of PUT between requests: one boxed
// for the encoder each time was 0.3 KB of garbage per registration.
var registerReplies = sync.Pool{New: func() any { return new(registerJSON) }}

func (a *api) deleteElement(w http.ResponseWriter, r *http.Request, reg Registrar) {
	if !allowed(w, r, reg) {
		return
	}
	turn(reg)
	pv, e := a.poolElement(w, r)
	if e == nil {
		return
	}
	res, ok := a.submit(w, r, reg, pv.Name, e.Label.String(), regcommit.Change{Pool: pv.Name, Label: e.Label.String()})
	if !ok {
		return
	}
	if len(res.Done) == 0 {
		writeError(w, r, http.StatusNotFound, fmt.Sprintf("pool %s has no element %q", pv.Name, r.PathValue("pe")))
		return
	}
	a.log.Info("http api: deregistered", "pool", pv.Name, "element", handlespace.IDString(e.ID), "name", e.Label.String(), "remote", r.RemoteAddr)
	writeJSON(w, r, http.StatusOK, deregisterJSON{Pool: pv.Name, Element: handlespace.IDString(e.ID), Label: e.Label.String(), Deleted: true})
}

// submission is the Request of one registration or removal, with room
// for its key and change: reused (submits), the Request, its key slice,
// its Build closure and the change it returns were 0.3 KB of garbage of
// every registration.
type submission struct {
	req    regcommit.Request
	keys   [1]string
	change [1]regcommit.Change
}

var submits = sync.Pool{New: func() any {
	s := &submission{req: regcommit.Request{Who: regcommit.Who{Owner: "http", Admin: true}}}
	s.req.Keys = s.keys[:]
	s.req.Build = func(*handlespace.View) ([]regcommit.Change, error) { return s.change[:], nil }
	return s
}}

// Turner is a Registrar that paces the front ends' work
// (*regcommit.Committer): a request takes a turn before its own work, so
// that a burst of them is spread between the DNS front's batches.
type Turner interface {
	Turn()
}

// turn takes a turn of reg's, if it has them.
func turn(reg Registrar) {
	if t, ok := reg.(Turner); ok {
		t.Turn()
	}
}

// submit sends one change to the registrar, writing the error reply if it
// fails.
func (a *api) submit(w http.ResponseWriter, r *http.Request, reg Registrar, pool, label string, c regcommit.Change) (regcommit.Result, bool) {
	// The request's context (the client gone) and a deadline bound the
	// wait; not a context.WithTimeout of each request's, whose context,
	// timer and channels were 0.65 KB of garbage per registration.
	s := submits.Get().(*submission)
	s.change[0], s.keys[0] = c, regcommit.Key(pool, label)
	s.req.Deadline = time.Now().Add(registerTimeout)
	res, err := reg.Submit(r.Context(), &s.req)
	if err == nil {
		s.change[0], s.keys[0] = regcommit.Change{}, ""
		submits.Put(s) // the registrar keeps nothing of it (Registrar)
		return res, true
	}
	msg := strings.TrimPrefix(err.Error(), "registrar: ")
	switch regcommit.CodeOf(err) {
	case regcommit.Refused:
		writeError(w, r, http.StatusConflict, msg)
	case regcommit.Invalid:
		writeError(w, r, http.StatusBadRequest, msg)
	case regcommit.NotFound:
		writeError(w, r, http.StatusNotFound, msg)
	default:
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
			msg = "the registration was not committed in time; nothing changed"
		}
		a.log.Error("http api: registration failed", "pool", pool, "element", label, "err", err.Error())
		w.Header().Set("Retry-After", "1")
		writeError(w, r, http.StatusServiceUnavailable, msg)
	}
	return regcommit.Result{}, false
}
