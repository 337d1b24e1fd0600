// Package webui is poolnsd's status page: one HTML page with its script and
// style sheet, embedded in the binary, that polls GET /v1/status and shows
// every pool and element live. It loads nothing from elsewhere (no CDN, no
// fonts), so it works offline and under a strict Content-Security-Policy.
//
// # Basics
//
// Handler serves GET / (the page) and GET /ui/{file} (its assets); mount it
// on the HTTP listener beside the JSON API, which serves /v1/status. The
// page refreshes every second (?refresh=SECONDS changes it), keeps pools
// open or closed as the user left them (local storage), filters rows by
// words (pool, element, address, site, health, error) and can show only
// elements with a problem. With more than 300 elements, pools start closed
// unless they have no element in the answers.
//
// history.js, beside app.js, polls GET /v1/history and GET /v1/peers
// every 2 s (?history_refresh=SECONDS) and draws in inline SVG, made by
// the script (no charting library, nothing from elsewhere): the
// registrar's queries per second, mean answer latency, elements served,
// health changes and peers up over 15 min, 1 h, 6 h or 24 h (?window=);
// the registrars of the cluster with their recent peering events; and in
// each open pool its element counts and answers per second, the share of
// first answers by element (what the policy should give, what the last
// 10 s and the last minute gave) and a health band per element over 15
// minutes with each state's times and reason on hover.
//
// # Caveats
//
// The page needs JavaScript. It shows what one registrar knows: with
// peering, elements homed elsewhere show their health as that registrar
// last published it.
package webui

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
)

//go:embed assets
var assets embed.FS

// asset is one embedded file with its validator.
type asset struct {
	body  []byte
	ctype string
	etag  string
}

var files = func() map[string]asset {
	out := map[string]asset{}
	sub, _ := fs.Sub(assets, "assets")
	fs.WalkDir(sub, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(sub, p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		ct := mime.TypeByExtension(path.Ext(p))
		switch path.Ext(p) { // not from the system's MIME tables, which vary
		case ".html":
			ct = "text/html; charset=utf-8"
		case ".js":
			ct = "text/javascript; charset=utf-8"
		case ".css":
			ct = "text/css; charset=utf-8"
		}
		out[p] = asset{body: b, ctype: ct, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
		return nil
	})
	return out
}()

// csp allows the page's own script, style sheet and API calls, and nothing
// else: no inline script, no other origin, no framing.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// Handler returns the handler of the status page: GET / and GET /ui/{file}.
// Other paths get 404.
func Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) { serve(w, r, "index.html") })
	mux.HandleFunc("GET /ui/{file}", func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("file")
		if name == "index.html" || strings.HasPrefix(name, ".") {
			http.NotFound(w, r)
			return
		}
		serve(w, r, name)
	})
	return mux
}

func serve(w http.ResponseWriter, r *http.Request, name string) {
	a, ok := files[name]
	if !ok {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Type", a.ctype)
	h.Set("ETag", a.etag)
	h.Set("Cache-Control", "no-cache") // revalidate: a new binary brings a new page
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Content-Security-Policy", csp)
	h.Set("X-Frame-Options", "DENY")
	if match := r.Header.Get("If-None-Match"); match != "" && strings.Contains(match, a.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(a.body)
	}
}
