package httpapi_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/poolnsd/poolnsd/handlespace"
)

// BenchmarkListPools: GET /v1/pools with the fixture's pools and one
// more of 100 000 registered elements (some down, some drained), whose
// summary counts must not cost a walk of its elements.
func BenchmarkListPools(b *testing.B) {
	f := newFixture(b, "")
	const n = 100000
	var groups [][]handlespace.Op
	for i := 1; i <= n; i++ {
		e := &handlespace.Element{ID: uint32(i), Label: handlespace.LabelOf(fmt.Sprintf("e%d", i)),
			Addrs: handlespace.AddrsOf(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})), Port: 80, Weight: 1}
		groups = append(groups, []handlespace.Op{{Pool: "big.pool.test.", Elem: e}})
	}
	for _, err := range f.hs.Apply(groups, nil) {
		if err != nil {
			b.Fatal(err)
		}
	}
	for i := 1; i <= n; i += 97 {
		if err := f.hs.Update("big.pool.test.", uint32(i), func(e *handlespace.Element) { e.Health = handlespace.HealthDown }); err != nil {
			b.Fatal(err)
		}
	}
	req := httptest.NewRequest("GET", "/v1/pools", nil)
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, req)
	if want := fmt.Sprintf(`"elements":%d,"served":%d,"up":%d,"down":%d`, n, n-n/97-1, n-n/97-1, n/97+1); !strings.Contains(w.Body.String(), want) {
		b.Fatalf("the list lacks %s: %s", want, w.Body.String())
	}
	b.ResetTimer()
	for b.Loop() {
		w := httptest.NewRecorder()
		f.h.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatal(w.Code, w.Body.String())
		}
	}
}
