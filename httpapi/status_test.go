package httpapi_test

import (
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/poolnsd/poolnsd/httpapi"
)

// withID is a backend that also names its registrar.
type withID struct{ *fakeBackend }

func (withID) RegistrarID() uint32 { return 0x00c0ffee }

// TestStatus: GET /v1/status is every pool of every zone, sorted by name,
// each exactly as GET /v1/pools/{pool} gives it, with the totals added up.
func TestStatus(t *testing.T) {
	f := newFixture(t, testToken)
	rp := f.do(t, "GET", "/v1/status", "", "")
	rp.want(t, http.StatusOK, "")
	if rp.json["time"] != t0.Format(time.RFC3339) {
		t.Errorf("time %v, want %s", rp.json["time"], t0.Format(time.RFC3339))
	}
	if _, ok := rp.json["registrar"]; ok {
		t.Errorf("registrar %v from a backend without RegistrarID", rp.json["registrar"])
	}
	pools, _ := rp.json["pools"].([]any)
	var names []string
	for _, p := range pools {
		pm := p.(map[string]any)
		names = append(names, pm["name"].(string))
		one := f.do(t, "GET", "/v1/pools/"+pm["name"].(string), "", "")
		sameJSON(t, "pool "+pm["name"].(string), pm, one.body)
	}
	if got := strings.Join(names, " "); got != "api.pool.test. solo.other.test. web.other.test. web.pool.test." {
		t.Errorf("pools %s, want sorted by name", got)
	}
	sameJSON(t, "totals", rp.json["totals"],
		`{"elements":7,"served":6,"up":6,"down":1,"unknown":0,"drained":0,"forced_down":0,"reported":0}`)

	// A backend with a registrar ID names it.
	h := httpapi.NewHandler(withID{f.b}, httpapi.Config{Logger: discard(), Now: func() time.Time { return t0 }})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/v1/status", nil))
	var st struct {
		Registrar string `json:"registrar"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &st); err != nil || st.Registrar != "00c0ffee" {
		t.Errorf("registrar %q (%v), want 00c0ffee", st.Registrar, err)
	}

	// Other methods: 405.
	f.do(t, "POST", "/v1/status", "{}", "").want(t, http.StatusMethodNotAllowed, "")
}

// TestStatusGzip: a client that accepts gzip gets the large reply gzipped,
// and it decodes to the plain one; q=0 refuses gzip.
func TestStatusGzip(t *testing.T) {
	f := newFixture(t, testToken)
	get := func(ae string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("GET", "/v1/status", nil)
		if ae != "" {
			r.Header.Set("Accept-Encoding", ae)
		}
		w := httptest.NewRecorder()
		f.h.ServeHTTP(w, r)
		return w
	}
	plain := get("")
	if plain.Header().Get("Content-Encoding") != "" {
		t.Fatalf("no Accept-Encoding, but Content-Encoding %q", plain.Header().Get("Content-Encoding"))
	}
	z := get("br, gzip;q=0.8")
	if z.Header().Get("Content-Encoding") != "gzip" || z.Header().Get("Vary") != "Accept-Encoding" {
		t.Fatalf("Accept-Encoding gzip: Content-Encoding %q Vary %q, want gzip", z.Header().Get("Content-Encoding"), z.Header().Get("Vary"))
	}
	zr, err := gzip.NewReader(z.Body)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != plain.Body.String() {
		t.Errorf("gzipped reply decodes to\n%s\nwant\n%s", b, plain.Body.String())
	}
	if z.Body.Len() >= plain.Body.Len() {
		t.Errorf("gzipped %d bytes, plain %d", z.Body.Len(), plain.Body.Len())
	}
	if w := get("gzip;q=0"); w.Header().Get("Content-Encoding") != "" {
		t.Errorf("gzip;q=0 got Content-Encoding %q", w.Header().Get("Content-Encoding"))
	}
}
