package httpapi_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/poolnsd/poolnsd/regcommit"
)

// BenchmarkPutRefresh: one HTTP registration refresh (PUT of an element
// that exists, with a new load, as bench/bigpool's clients send), through
// the handler, a real registrar and store: what the API's own path
// allocates and costs besides the commit (the fsync dominates the time).
//
//	go test -run XXX -bench PutRefresh -benchmem -memprofile /tmp/put.mem ./httpapi
func BenchmarkPutRefresh(b *testing.B) {
	f := newRegFixture(b, regcommit.Config{Rate: 1e9, Burst: 1 << 30})
	body := func(i int) string {
		return fmt.Sprintf(`{"addresses":["192.0.2.99"],"port":9000,"weight":3,"load":0.%02d,"lease":60}`, i%100)
	}
	put := func(i int) {
		r := httptest.NewRequest("PUT", "/v1/pools/web.pool.test/elements/h1", strings.NewReader(body(i)))
		r.Header.Set("Authorization", auth)
		w := httptest.NewRecorder()
		f.h.ServeHTTP(w, r)
		if w.Code != http.StatusOK && w.Code != http.StatusCreated {
			b.Fatal(w.Code, w.Body.String())
		}
	}
	put(0)
	i := 1
	for b.Loop() {
		put(i)
		i++
	}
}
