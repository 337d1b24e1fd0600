package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/poolnsd/poolnsd/handlespace"
)

// The JSON of the replies. The types of the replies that clients read
// (StatusJSON, PoolJSON, ElementJSON and what they hold, ErrorJSON) are
// exported, so that a client in Go (poolnsd status, drain) decodes with the
// types the server encodes with.

// poolList is the reply of GET /v1/pools.
type poolList struct {
	Pools []PoolJSON `json:"pools"`
}

// PoolJSON is a pool: its settings and counts, and with GET
// /v1/pools/{pool} its elements.
type PoolJSON struct {
	Name     string         `json:"name"`   // lower-case FQDN: web.pool.example.
	Handle   string         `json:"handle"` // web
	Zone     string         `json:"zone"`   // pool.example.
	Static   bool           `json:"static"` // defined by a zone file
	Policy   string         `json:"policy"`
	TTL      uint32         `json:"ttl"`
	Answers  int            `json:"answers"`
	AllDown  string         `json:"alldown"`
	Service  string         `json:"service"` // "" none
	URI      string         `json:"uri"`     // "" none
	Probe    *ProbeJSON     `json:"probe"`   // null: no active probe
	FailOpen bool           `json:"fail_open"`
	Gen      uint64         `json:"gen"`
	Counts   CountsJSON     `json:"counts"`
	Elements *[]ElementJSON `json:"elements,omitempty"`
}

// ProbeJSON is a pool's or an element's probe settings.
type ProbeJSON struct {
	Kind       string  `json:"kind"`
	Target     string  `json:"target"`
	IntervalMS int64   `json:"interval_ms"`
	TimeoutMS  int64   `json:"timeout_ms"`
	Rise       int     `json:"rise"`
	Fall       int     `json:"fall"`
	Jitter     float64 `json:"jitter"`
}

// CountsJSON counts a pool's elements (or, in StatusJSON.Totals, every
// pool's) by health and administrative state.
type CountsJSON struct {
	Elements   int `json:"elements"`
	Served     int `json:"served"` // in the answers now
	Up         int `json:"up"`
	Down       int `json:"down"`
	Unknown    int `json:"unknown"`
	Drained    int `json:"drained"`
	ForcedDown int `json:"forced_down"`
	Reported   int `json:"reported"`
	// Disputed counts the elements whose vantage points disagreed at
	// their last health confirmation (absent when none).
	Disputed int `json:"disputed,omitempty"`
}

// ElementJSON is a pool element (and the reply of PUT
// /v1/pools/{pool}/elements/{pe}/admin).
type ElementJSON struct {
	ID         string         `json:"id"`    // 8 hex digits
	Label      string         `json:"label"` // first label of its own name
	Name       string         `json:"name"`  // its own name: label.pool
	Addresses  []string       `json:"addresses"`
	Port       uint16         `json:"port"`
	Transport  string         `json:"transport"`
	Weight     uint32         `json:"weight"`
	Priority   uint32         `json:"priority"`
	Load       float64        `json:"load"`    // 0..1
	LoadDeg    float64        `json:"loaddeg"` // 0..1
	Site       string         `json:"site"`
	Health     string         `json:"health"` // up, down, unknown
	Admin      string         `json:"admin"`  // auto, drain, force-down
	Reported   bool           `json:"reported"`
	Served     bool           `json:"served"`       // in the answers now
	RTTms      *float64       `json:"rtt_ms"`       // smoothed probe RTT (of this registrar's probes, else the view's); null unknown
	LocalRTTms *float64       `json:"local_rtt_ms"` // this registrar's own smoothed RTT (its probes' or its nearest samples'); null unknown
	Home       string         `json:"home"`         // registrar ID, 8 hex digits
	Static     bool           `json:"static"`
	Expires    *time.Time     `json:"expires"`      // null: no lease
	LeaseLeftS *float64       `json:"lease_left_s"` // null: no lease
	Probe      *ProbeJSON     `json:"probe"`        // the element's own probe settings; null: the pool's
	LastProbe  *LastProbeJSON `json:"last_probe"`   // null: none here
	// Disputed is true when the vantage points of the element's last
	// health confirmation disagreed: it stays in the answers, last at the
	// registrars that cannot reach it (Last: this one is such a
	// registrar). Vantage says what each of them saw. All absent when
	// not disputed.
	Disputed bool          `json:"disputed,omitempty"`
	Last     bool          `json:"last,omitempty"`
	Vantage  []VantageJSON `json:"vantage,omitempty"`
}

// VantageJSON is what one registrar saw of an element at its last health
// confirmation.
type VantageJSON struct {
	Registrar string `json:"registrar"` // 8 hex digits
	Health    string `json:"health"`    // up, down
}

// LastProbeJSON is the result of an element's last probe here.
type LastProbeJSON struct {
	At    time.Time `json:"at"`
	OK    bool      `json:"ok"`
	Error string    `json:"error"`
	RTTms float64   `json:"rtt_ms"`
}

// reportJSON is the reply of POST /v1/pools/{pool}/reports.
type reportJSON struct {
	Pool    string `json:"pool"`
	Element string `json:"element"`
	Reports int    `json:"reports"`
	Removed bool   `json:"removed"`
	// Forwarded is the element's home registrar when the report was
	// passed on to it (with peering); the home counts it, so Reports is
	// 0 and Removed is this registrar's view.
	Forwarded string `json:"forwarded_to,omitempty"`
}

// ErrorJSON is the reply of every error: the message, and for an ambiguous
// pool handle the pools it could name.
type ErrorJSON struct {
	Error      string   `json:"error"`
	Candidates []string `json:"candidates,omitempty"`
	// Home is the registrar ID (8 hex digits) of the element's home when
	// an administrative change could not be made there (HomeError).
	Home string `json:"home,omitempty"`
}

func probeSpec(p handlespace.ProbeSpec) *ProbeJSON {
	if !p.Probed() {
		return nil
	}
	return &ProbeJSON{
		Kind:       p.Kind,
		Target:     p.Target,
		IntervalMS: p.Interval.Milliseconds(),
		TimeoutMS:  p.Timeout.Milliseconds(),
		Rise:       p.Rise,
		Fall:       p.Fall,
		Jitter:     p.Jitter,
	}
}

func poolSummary(pv *handlespace.PoolView) PoolJSON {
	p := PoolJSON{
		Name:     pv.Name,
		Handle:   pv.Handle,
		Zone:     pv.Zone,
		Static:   pv.Static,
		Policy:   pv.Spec.Policy,
		TTL:      pv.Spec.TTL,
		Answers:  pv.Spec.Answers,
		AllDown:  pv.Spec.AllDown.String(),
		Service:  pv.Spec.Service,
		URI:      pv.Spec.URI,
		Probe:    probeSpec(pv.Spec.Probe),
		FailOpen: pv.FailOpen,
		Gen:      pv.Gen,
	}
	c := &p.Counts
	c.Elements = pv.Len()
	c.Served = pv.All.Len()
	n := pv.Counts() // kept by the view: no walk of the elements
	c.Up, c.Down, c.Unknown = n.Up, n.Down, n.Unknown
	c.Drained, c.ForcedDown = n.Drained, n.ForcedDown
	c.Reported, c.Disputed = n.Reported, n.Disputed
	return p
}

func (a *api) poolDetail(pv *handlespace.PoolView) PoolJSON {
	p := poolSummary(pv)
	es := make([]ElementJSON, 0, pv.Len())
	for e := range pv.Range() {
		es = append(es, a.element(pv, e))
	}
	p.Elements = &es
	return p
}

func (a *api) element(pv *handlespace.PoolView, e *handlespace.Element) ElementJSON {
	j := ElementJSON{
		ID:        idString(e.ID),
		Label:     e.Label.String(),
		Name:      e.Label.String() + "." + pv.Name,
		Addresses: make([]string, e.Addrs.Len()),
		Port:      e.Port,
		Transport: e.Transport.String(),
		Weight:    e.Weight,
		Priority:  e.Priority,
		Load:      round(handlespace.LoadFraction(e.Load), 1e6),
		LoadDeg:   round(handlespace.LoadFraction(e.LoadDeg), 1e6),
		Site:      e.Site.String(),
		Health:    e.Health.String(),
		Admin:     e.Admin.String(),
		Reported:  e.Reported,
		Served:    pv.Serves(e),
		Home:      idString(e.Home),
		Static:    e.Static,
		Disputed:  e.Disputed(),
		Last:      e.Last,
	}
	for _, v := range e.Vantage.All() {
		j.Vantage = append(j.Vantage, VantageJSON{Registrar: idString(v.Registrar), Health: v.Health.String()})
	}
	for i, ad := range e.Addrs.All() {
		j.Addresses[i] = ad.String()
	}
	rtt := e.RTT
	st, probed := a.b.ProbeStatus(pv.Name, e.ID)
	if probed && st.SRTT > 0 {
		rtt = st.SRTT
	}
	if rtt > 0 {
		ms := millis(rtt)
		j.RTTms = &ms
	}
	if e.LocalRTT > 0 {
		ms := millis(e.LocalRTT)
		j.LocalRTTms = &ms
	}
	if !e.Expires.Time().IsZero() {
		exp := e.Expires.Time().UTC()
		left := round(max(0, e.Expires.Time().Sub(a.now()).Seconds()), 1e3)
		j.Expires, j.LeaseLeftS = &exp, &left
	}
	if ps := e.Probe.Spec(); ps != nil {
		j.Probe = probeSpec(*ps)
		if j.Probe == nil { // probes turned off for this element
			j.Probe = &ProbeJSON{Kind: "none"}
		}
	}
	if probed {
		j.LastProbe = &LastProbeJSON{At: st.At.UTC(), OK: st.OK, Error: st.Err, RTTms: millis(st.RTT)}
	}
	return j
}

// idString is handlespace.IDString(id), eight lower-case hex digits, in
// one allocation: IDString's padding made a string per leading zero, and
// the two of each registration's reply were 2 % of a PUT's instructions
// (bench/RESULTS.md, reg11).
func idString(id uint32) string {
	const hex = "0123456789abcdef"
	var b [8]byte
	for i := len(b) - 1; i >= 0; i-- {
		b[i] = hex[id&0xF]
		id >>= 4
	}
	return string(b[:])
}

// millis is d in milliseconds, to the microsecond.
func millis(d time.Duration) float64 { return round(float64(d)/float64(time.Millisecond), 1e3) }

func round(f, scale float64) float64 { return math.Round(f*scale) / scale }

// WriteJSON writes v as the reply with status and the API's headers
// (JSON, no caching, no sniffing), indented when the query has "pretty":
// for the daemon's other JSON endpoints on the same listener (readiness,
// the demo's backends), so that they answer as the API does.
func WriteJSON(w http.ResponseWriter, r *http.Request, status int, v any) { writeJSON(w, r, status, v) }

// writeJSON writes v as the reply, indented when the query has "pretty".
func writeJSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	buf, err := encodeJSON(r, v)
	defer putBuffer(buf)
	if err != nil {
		// Only a bug gets here: every reply type marshals.
		status = http.StatusInternalServerError
		buf.Reset()
		fmt.Fprintf(buf, "{\"error\":%q}\n", "cannot encode reply: "+err.Error())
	}
	writeBody(w, r, status, buf.Bytes(), false)
}

// encodeJSON encodes v, indented when the query has "pretty", into a
// buffer of the pool, which the caller hands back with putBuffer once the
// reply is written.
func encodeJSON(r *http.Request, v any) (*bytes.Buffer, error) {
	buf := buffers.Get().(*bytes.Buffer)
	enc := json.NewEncoder(buf)
	if r.URL.RawQuery != "" { // Query parses (and allocates) even an empty one
		if _, ok := r.URL.Query()["pretty"]; ok {
			enc.SetIndent("", "  ")
		}
	}
	return buf, enc.Encode(v)
}

// buffers holds the replies' buffers between requests: a registration's
// reply grew a new one from 64 bytes each time, garbage that a registrar
// taking a thousand registrations a second into a pool of a million paid
// for in collections of its whole heap (bench/RESULTS.md, heap8).
var buffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// bufferKeep is the largest buffer kept for reuse: a list of many pools
// or elements is rare, and keeping its megabytes would hold them for
// good.
const bufferKeep = 64 << 10

// putBuffer hands buf back to the pool, emptied; nothing may use it after.
func putBuffer(buf *bytes.Buffer) {
	if buf.Cap() > bufferKeep {
		return
	}
	buf.Reset()
	buffers.Put(buf)
}

// writeBody writes body, JSON (gzipped if gzipped says so), as the reply,
// with its headers; a HEAD request gets the headers only.
func writeBody(w http.ResponseWriter, r *http.Request, status int, body []byte, gzipped bool) {
	h := w.Header()
	// The constant values are shared slices (net/http only reads them): a
	// Set makes a slice of each, garbage of every reply.
	h["Content-Type"] = hdrJSON
	if gzipped {
		h["Content-Encoding"] = hdrGzip
		h["Vary"] = hdrVaryEncoding
	}
	h["Content-Length"] = []string{strconv.Itoa(len(body))} // canonical: no Set's canonicalising
	h["Cache-Control"] = hdrNoStore
	h["X-Content-Type-Options"] = hdrNoSniff
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		w.Write(body)
	}
}

// The values of writeBody's constant headers.
var (
	hdrJSON         = []string{"application/json"}
	hdrGzip         = []string{"gzip"}
	hdrVaryEncoding = []string{"Accept-Encoding"}
	hdrNoStore      = []string{"no-store"}
	hdrNoSniff      = []string{"nosniff"}
)

func writeError(w http.ResponseWriter, r *http.Request, status int, msg string) {
	writeJSON(w, r, status, ErrorJSON{Error: msg})
}

func writeLookupError(w http.ResponseWriter, r *http.Request, e *lookupError) {
	writeJSON(w, r, e.status, ErrorJSON{Error: e.msg, Candidates: e.candidates})
}

// decodeBody reads the request's JSON object into dst, refusing unknown
// fields (want names the known ones, for the message), more than maxBody
// bytes and anything after the object. On error it writes the reply and
// returns false.
func decodeBody(w http.ResponseWriter, r *http.Request, dst any, want string) bool {
	return decodeBodyFrom(w, r, r.Body, dst, want)
}

// decodeBodyFrom is decodeBody reading the body from src.
func decodeBodyFrom(w http.ResponseWriter, r *http.Request, src io.ReadCloser, dst any, want string) bool {
	body := &limitReader{r: http.MaxBytesReader(w, src, maxBody)}
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	err := dec.Decode(dst)
	if err == nil {
		if _, terr := dec.Token(); terr != io.EOF {
			err = errors.New("trailing data after the JSON object")
		}
	}
	if err == nil {
		return true
	}
	status, msg := http.StatusBadRequest, ""
	var (
		se  *json.SyntaxError
		ute *json.UnmarshalTypeError
	)
	switch {
	case body.hit:
		// Checked on the reader, not on err: how the decoder wraps a read
		// error is its own business.
		status, msg = http.StatusRequestEntityTooLarge, fmt.Sprintf("request body larger than %d bytes", maxBody)
	case errors.Is(err, io.EOF):
		msg = "empty request body; want a JSON object"
	case errors.Is(err, io.ErrUnexpectedEOF):
		msg = "request body ends inside its JSON"
	case errors.As(err, &se):
		msg = fmt.Sprintf("bad JSON at byte %d: %s", se.Offset, strings.TrimPrefix(se.Error(), "json: "))
	case errors.As(err, &ute):
		if ute.Field == "" {
			msg = fmt.Sprintf("request body is a JSON %s; want an object", ute.Value)
		} else {
			msg = fmt.Sprintf("field %q is a JSON %s; want a %s", ute.Field, ute.Value, jsonKind(ute.Type.Kind().String()))
		}
	case strings.Contains(err.Error(), "unknown field"):
		field := err.Error()
		if i := strings.Index(field, `"`); i >= 0 {
			field = field[i:]
		}
		msg = fmt.Sprintf("unknown field %s; want %s", field, want)
	default:
		msg = "bad request body: " + strings.TrimPrefix(err.Error(), "json: ")
	}
	writeError(w, r, status, msg)
	return false
}

// limitReader notes whether the body went over its limit.
type limitReader struct {
	r   io.Reader
	hit bool
}

func (l *limitReader) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	if mbe := (*http.MaxBytesError)(nil); errors.As(err, &mbe) {
		l.hit = true
	}
	return n, err
}

// jsonKind names a Go kind as JSON does.
func jsonKind(k string) string {
	switch k {
	case "string":
		return "string"
	case "bool":
		return "boolean"
	case "struct", "map":
		return "object"
	case "slice", "array":
		return "array"
	}
	return "number"
}
