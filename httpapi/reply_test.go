package httpapi

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/poolnsd/poolnsd/handlespace"
)

// encodingJSON is the reply as writeJSON wrote it before writeRegister:
// json.Encoder's bytes, newline included; "" if it refuses the value.
func encodingJSON(v any) string {
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(v); err != nil {
		return ""
	}
	return buf.String()
}

// checkRegister compares appendRegister with encoding/json on reply.
func checkRegister(t testing.TB, reply *registerJSON) {
	t.Helper()
	want := encodingJSON(reply)
	got, ok := appendRegister([]byte("x"), reply)
	if !ok {
		if want != "" {
			t.Fatalf("appendRegister refused what encoding/json writes:\n%s", want)
		}
		return
	}
	if want == "" {
		t.Fatalf("appendRegister wrote what encoding/json refuses: %s", got)
	}
	if g := string(got[1:]) + "\n"; string(got[:1]) != "x" || g != want {
		t.Fatalf("appendRegister:\n%s\nencoding/json:\n%s", g, want)
	}
}

// randReply makes a reply with every field set at random: strings with
// characters to escape, nil and set pointers, floats of every range (NaN
// and infinities among them), times in and out of what JSON takes.
func randReply(rng *rand.Rand) *registerJSON {
	str := func() string {
		switch rng.IntN(4) {
		case 0:
			return ""
		case 1:
			return []string{"web.pool.test.", "h1", "0a1b2c3d", "up", "drain", "tcp", "fra"}[rng.IntN(7)]
		}
		b := make([]byte, rng.IntN(12))
		for i := range b {
			b[i] = byte(rng.UintN(256))
			if rng.IntN(2) == 0 {
				b[i] = "<>&\"\\\n\x00\x7fa\u2028"[rng.IntN(12)]
			}
		}
		return string(b)
	}
	flt := func() float64 {
		switch rng.IntN(6) {
		case 0:
			return 0
		case 1:
			return []float64{math.NaN(), math.Inf(1), math.Inf(-1), 1e-7, 1e21, -0.5}[rng.IntN(6)]
		case 2:
			return math.Float64frombits(rng.Uint64())
		}
		return math.Round(rng.Float64()*1e6) / 1e6
	}
	fptr := func() *float64 {
		if rng.IntN(3) == 0 {
			return nil
		}
		f := flt()
		return &f
	}
	tm := func() time.Time {
		if rng.IntN(10) == 0 {
			return time.Date(10000+rng.IntN(10), 1, 1, 0, 0, 0, 0, time.UTC)
		}
		return time.Unix(rng.Int64N(4e9), rng.Int64N(1e9)).UTC()
	}
	e := ElementJSON{
		ID: str(), Label: str(), Name: str(), Port: uint16(rng.Uint32()), Transport: str(),
		Weight: rng.Uint32(), Priority: rng.Uint32(), Load: flt(), LoadDeg: flt(), Site: str(),
		Health: str(), Admin: str(), Reported: rng.IntN(2) == 0, Served: rng.IntN(2) == 0,
		RTTms: fptr(), LocalRTTms: fptr(), Home: str(), Static: rng.IntN(2) == 0, LeaseLeftS: fptr(),
		Disputed: rng.IntN(2) == 0, Last: rng.IntN(2) == 0,
	}
	if n := rng.IntN(4); n > 0 {
		e.Addresses = make([]string, n-1)
		for i := range e.Addresses {
			e.Addresses[i] = str()
		}
	}
	if rng.IntN(2) == 0 {
		x := tm()
		e.Expires = &x
	}
	if rng.IntN(2) == 0 {
		e.Probe = &ProbeJSON{Kind: str(), Target: str(), IntervalMS: rng.Int64() - 1<<62, TimeoutMS: rng.Int64N(1e6),
			Rise: rng.IntN(10) - 2, Fall: rng.IntN(10), Jitter: flt()}
	}
	if rng.IntN(2) == 0 {
		e.LastProbe = &LastProbeJSON{At: tm(), OK: rng.IntN(2) == 0, Error: str(), RTTms: flt()}
	}
	for range rng.IntN(4) {
		e.Vantage = append(e.Vantage, VantageJSON{Registrar: str(), Health: str()})
	}
	if rng.IntN(5) == 0 {
		e.Vantage = []VantageJSON{} // empty, not nil: omitted all the same
	}
	return &registerJSON{Pool: str(), Created: rng.IntN(2) == 0, LeaseS: flt(), Element: e}
}

func TestAppendRegister(t *testing.T) {
	now := time.Date(2026, 12, 7, 15, 4, 5, 120000000, time.UTC)
	left, rtt := 59.5, 0.25
	// The reply of a registration as the API makes it, and one with
	// every optional part.
	checkRegister(t, &registerJSON{Pool: "web.pool.test.", Created: true, LeaseS: 60, Element: ElementJSON{
		ID: "0a1b2c3d", Label: "h1", Name: "h1.web.pool.test.", Addresses: []string{"192.0.2.10", "2001:db8::1"},
		Port: 8080, Transport: "tcp", Weight: 1, Load: 0.35, Health: "unknown", Admin: "auto", Served: true,
		Home: "00000001", Expires: &now, LeaseLeftS: &left}})
	checkRegister(t, &registerJSON{Pool: "web.pool.test.", LeaseS: 7200, Element: ElementJSON{
		ID: "0a1b2c3d", Label: "h1", Name: "h1.web.pool.test.", Addresses: []string{},
		RTTms: &rtt, LocalRTTms: &rtt, Probe: &ProbeJSON{Kind: "http", Target: "/health?a=1&b=<2>", IntervalMS: 1000, TimeoutMS: 500, Rise: 2, Fall: 3, Jitter: 0.1},
		LastProbe: &LastProbeJSON{At: now, OK: false, Error: `connect: "refused"`, RTTms: 1.5},
		Disputed:  true, Last: true, Vantage: []VantageJSON{{Registrar: "00000001", Health: "up"}, {Registrar: "00000002", Health: "down"}}}})
	rng := rand.New(rand.NewPCG(7, 8))
	refused := 0
	for range 20000 {
		r := randReply(rng)
		if encodingJSON(r) == "" {
			refused++
		}
		checkRegister(t, r)
	}
	// Both paths were taken: the comparison covered the fallback too.
	if refused == 0 || refused == 20000 {
		t.Fatalf("%d of 20000 random replies refused by encoding/json", refused)
	}
}

func FuzzAppendRegister(f *testing.F) {
	f.Add(uint64(1), uint64(2))
	f.Fuzz(func(t *testing.T, a, b uint64) { checkRegister(t, randReply(rand.New(rand.NewPCG(a, b)))) })
}

// TestWriteRegister: the reply written is writeJSON's, headers included,
// and ?pretty still indents it; a reply that encoding/json refuses is
// its 500 as before.
func TestWriteRegister(t *testing.T) {
	exp := time.Date(2026, 12, 7, 15, 4, 5, 0, time.UTC)
	reply := &registerJSON{Pool: "web.pool.test.", Created: true, LeaseS: 60, Element: ElementJSON{
		ID: "0a1b2c3d", Label: "h1", Name: "h1.web.pool.test.", Addresses: []string{"192.0.2.10"}, Port: 8080,
		Transport: "tcp", Health: "unknown", Admin: "auto", Home: "00000001", Expires: &exp}}
	nan := math.NaN()
	bad := *reply
	bad.Element.RTTms = &nan
	for _, c := range []struct {
		target string
		reply  *registerJSON
	}{
		{"/v1/pools/web/elements/h1", reply},
		{"/v1/pools/web/elements/h1?pretty", reply},
		{"/v1/pools/web/elements/h1", &bad},
	} {
		r := httptest.NewRequest("PUT", c.target, nil)
		got, want := httptest.NewRecorder(), httptest.NewRecorder()
		writeRegister(got, r, 201, c.reply)
		writeJSON(want, r, 201, c.reply)
		if got.Code != want.Code || got.Body.String() != want.Body.String() {
			t.Fatalf("%s: writeRegister %d %s, writeJSON %d %s", c.target, got.Code, got.Body, want.Code, want.Body)
		}
		for k := range want.Header() {
			if g, w := got.Header().Values(k), want.Header().Values(k); len(g) != len(w) || g[0] != w[0] {
				t.Fatalf("%s: header %s: %q, writeJSON %q", c.target, k, g, w)
			}
		}
		if len(got.Header()) != len(want.Header()) {
			t.Fatalf("%s: headers %v, writeJSON %v", c.target, got.Header(), want.Header())
		}
	}
}

// discardWriter is a ResponseWriter that keeps its header map and drops
// the body, so that a benchmark counts the reply's encoding alone.
type discardWriter struct{ h http.Header }

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d *discardWriter) WriteHeader(int)             {}

// BenchmarkRegisterReply: a registration's reply written by writeJSON
// (encoding/json, as before) and by writeRegister.
//
//	go test -run XXX -bench RegisterReply -benchmem ./httpapi
func BenchmarkRegisterReply(b *testing.B) {
	exp := time.Date(2026, 12, 7, 15, 4, 5, 123456789, time.UTC)
	left := 7199.998
	reply := &registerJSON{Pool: "big0.bench.test.", LeaseS: 7200, Element: ElementJSON{
		ID: "0a1b2c3d", Label: "e123456", Name: "e123456.big0.bench.test.", Addresses: []string{"10.1.226.64"},
		Port: 8080, Transport: "tcp", Weight: 1, Load: 0.37, Health: "unknown", Admin: "auto", Served: true,
		Home: "5a6b7c8d", Expires: &exp, LeaseLeftS: &left}}
	r := httptest.NewRequest("PUT", "/v1/pools/big0.bench.test/elements/e123456", nil)
	w := &discardWriter{h: http.Header{}}
	for _, c := range []struct {
		name  string
		write func(http.ResponseWriter, *http.Request, int, *registerJSON)
	}{
		{"encoding-json", func(w http.ResponseWriter, r *http.Request, s int, v *registerJSON) { writeJSON(w, r, s, v) }},
		{"jsonw", writeRegister},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				c.write(w, r, 200, reply)
			}
		})
	}
}

// TestIDString: idString is handlespace.IDString.
func TestIDString(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for i := range 100000 {
		id := rng.Uint32() >> rng.UintN(33)
		if i < 2 {
			id = [2]uint32{0, math.MaxUint32}[i]
		}
		if got, want := idString(id), handlespace.IDString(id); got != want {
			t.Fatalf("idString(%#x) = %q, IDString %q", id, got, want)
		}
	}
}
