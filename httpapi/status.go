package httpapi

import (
	"bytes"
	"compress/gzip"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/poolnsd/poolnsd/handlespace"
)

// StatusJSON is the reply of GET /v1/status: every pool with its elements
// in one reply, for the status page and "poolnsd status" (one request per
// refresh, however many pools there are).
type StatusJSON struct {
	Time      time.Time  `json:"time"`                // when the reply was made, UTC
	Registrar string     `json:"registrar,omitempty"` // this registrar's ID, 8 hex digits
	Totals    CountsJSON `json:"totals"`              // the pools' counts added up
	Pools     []PoolJSON `json:"pools"`               // sorted by name, each with its elements
}

// registrarIDer is what a Backend may also implement to name its registrar
// in /v1/status (*handlespace.Handlespace does).
type registrarIDer interface {
	RegistrarID() uint32
}

// gzipMin is the smallest reply worth compressing.
const gzipMin = 1400

func (a *api) status(w http.ResponseWriter, r *http.Request) {
	out := StatusJSON{Time: a.now().UTC(), Pools: []PoolJSON{}}
	if rid, ok := a.b.(registrarIDer); ok {
		out.Registrar = handlespace.IDString(rid.RegistrarID())
	}
	if v := a.b.View(); v != nil {
		for _, z := range v.Zones() {
			for _, h := range z.PoolHandles() {
				if pv := z.Pool(h); pv != nil {
					out.Pools = append(out.Pools, a.poolDetail(pv))
				}
			}
		}
	}
	slices.SortFunc(out.Pools, func(x, y PoolJSON) int { return strings.Compare(x.Name, y.Name) })
	t := &out.Totals
	for _, p := range out.Pools {
		c := p.Counts
		t.Elements += c.Elements
		t.Served += c.Served
		t.Up += c.Up
		t.Down += c.Down
		t.Unknown += c.Unknown
		t.Drained += c.Drained
		t.ForcedDown += c.ForcedDown
		t.Reported += c.Reported
		t.Disputed += c.Disputed
	}
	writeJSONGzip(w, r, http.StatusOK, out)
}

// writeJSONGzip is writeJSON, gzipped when the client accepts it and the
// reply is large: the status of a thousand elements is about 600 kB of
// JSON, 40 kB gzipped, fetched every second by each open status page.
func writeJSONGzip(w http.ResponseWriter, r *http.Request, status int, v any) {
	if !acceptsGzip(r) {
		writeJSON(w, r, status, v)
		return
	}
	buf, err := encodeJSON(r, v)
	if err != nil || buf.Len() < gzipMin {
		putBuffer(buf)
		writeJSON(w, r, status, v)
		return
	}
	var gz bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&gz, gzip.BestSpeed)
	zw.Write(buf.Bytes())
	zw.Close()
	putBuffer(buf)
	writeBody(w, r, status, gz.Bytes(), true)
}

// acceptsGzip reports whether the request's Accept-Encoding allows gzip.
func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		enc, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(enc), "gzip") {
			continue
		}
		q := strings.ReplaceAll(strings.TrimSpace(params), " ", "")
		return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
	}
	return false
}
