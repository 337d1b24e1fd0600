package httpapi

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/poolnsd/poolnsd/history"
)

// History is what serves GET /v1/history and GET /v1/peers: the
// registrar's recent past (*history.Recorder).
type History interface {
	History(q history.Query) history.Reply
	Peers(now time.Time) history.PeersReply
}

var _ History = (*history.Recorder)(nil)

// maxWindow bounds ?window= (the recorder clamps to what it keeps).
const maxWindow = 31 * 24 * time.Hour

// history answers GET /v1/history[?window=DURATION][&pool=POOL][&timelines=0]:
// the series of every pool (or one) and the registrar, and the elements'
// health timelines.
func (a *api) history(w http.ResponseWriter, r *http.Request) {
	if a.hist == nil {
		writeError(w, r, http.StatusNotFound, "this server keeps no history")
		return
	}
	q := history.Query{}
	v := r.URL.Query()
	if s := v.Get("window"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 || d > maxWindow {
			writeError(w, r, http.StatusBadRequest, fmt.Sprintf("window %q is not a positive duration up to %v, want e.g. 15m or 24h", s, maxWindow))
			return
		}
		q.Window = d
	}
	if s := v.Get("pool"); s != "" {
		pv, lerr := findPool(a.b.View(), s)
		if lerr != nil {
			// A pool that is gone may still have history: take its name as written.
			name := strings.ToLower(strings.TrimSuffix(s, ".")) + "."
			if rep := a.hist.History(history.Query{Window: time.Second, Pool: name, NoTimelines: true}); len(rep.Pools) == 0 {
				writeLookupError(w, r, lerr)
				return
			}
			q.Pool = name
		} else {
			q.Pool = pv.Name
		}
	}
	switch v.Get("timelines") {
	case "", "1", "true":
	case "0", "false":
		q.NoTimelines = true
	default:
		writeError(w, r, http.StatusBadRequest, fmt.Sprintf("timelines %q is not 0 or 1", v.Get("timelines")))
		return
	}
	writeJSONGzip(w, r, http.StatusOK, a.hist.History(q))
}

// peers answers GET /v1/peers: the registrars of the cluster as this one
// sees them, and its recent peering events.
func (a *api) peers(w http.ResponseWriter, r *http.Request) {
	if a.hist == nil {
		writeError(w, r, http.StatusNotFound, "this server keeps no history of its peers")
		return
	}
	writeJSONGzip(w, r, http.StatusOK, a.hist.Peers(a.now()))
}
