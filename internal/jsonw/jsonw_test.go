package jsonw

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// marshal is encoding/json's bytes for v, "" when it refuses v.
func marshal(t testing.TB, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	return string(b)
}

func checkString(t testing.TB, s string) {
	t.Helper()
	if got, want := string(String([]byte("x"), s)), "x"+marshal(t, s); got != want {
		t.Fatalf("String(%q) = %s, encoding/json %s", s, got, want)
	}
	if got, want := string(String([]byte("x"), []byte(s))), "x"+marshal(t, s); got != want {
		t.Fatalf("String([]byte(%q)) = %s, encoding/json %s", s, got, want)
	}
}

func TestString(t *testing.T) {
	for _, s := range []string{
		"", "web", "tsig:key.example.", `a"b\c`, "<script>&amp;</script>", "\x00\x01\x1f\x7f",
		"\b\f\n\r\t", "é—ü", "\u2028\u2029", "\xff", "a\xc3", "\xed\xa0\x80", "\U0001F600", "\ufffd",
		string([]byte{0xe2, 0x80}), // a cut U+2028
	} {
		checkString(t, s)
	}
	// Every byte alone and beside others.
	for c := 0; c < 256; c++ {
		checkString(t, string([]byte{byte(c)}))
		checkString(t, "a"+string([]byte{byte(c)})+"\u2029z")
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		b := make([]byte, rng.IntN(24))
		for i := range b {
			b[i] = byte(rng.UintN(256))
			if rng.IntN(3) == 0 {
				b[i] = byte(0x20 + rng.UintN(0x60))
			}
		}
		checkString(t, string(b))
	}
}

func checkFloat(t testing.TB, f float64) {
	t.Helper()
	got, ok := Float([]byte("x"), f)
	want := marshal(t, f)
	if !ok {
		if want != "" || string(got) != "x" {
			t.Fatalf("Float(%v) refused (%q), encoding/json %s", f, got, want)
		}
		return
	}
	if string(got) != "x"+want {
		t.Fatalf("Float(%v) = %s, encoding/json %s", f, got, want)
	}
}

func TestFloat(t *testing.T) {
	for _, f := range []float64{0, math.Copysign(0, -1), 1, -1, 0.5, 0.123456, 1e-6, 9.99999e-7, 1e-7, 1e20, 1e21, 1e21 - 1,
		-1e21, 123456789.123, math.MaxFloat64, math.SmallestNonzeroFloat64, math.NaN(), math.Inf(1), math.Inf(-1), 1e-300, 5e-324} {
		checkFloat(t, f)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for range 50000 {
		checkFloat(t, math.Float64frombits(rng.Uint64()))
		checkFloat(t, math.Round(rng.Float64()*1e6)/1e6)
		checkFloat(t, rng.NormFloat64()*math.Pow(10, float64(rng.IntN(50)-25)))
		// Integers, where Float takes its short cut, and beside its bounds.
		checkFloat(t, float64(rng.Int64N(1<<54)-1<<53))
		checkFloat(t, float64(rng.Int64N(20000)-10000))
		checkFloat(t, math.Ldexp(float64(rng.Int64N(1<<53)), rng.IntN(20)))
	}
	for _, f := range []float64{1 << 53, 1<<53 - 1, -(1 << 53), 1<<53 + 2, 1 << 60, 7200, 60, -7200} {
		checkFloat(t, f)
		checkFloat(t, math.Nextafter(f, 0))
		checkFloat(t, math.Nextafter(f, math.Inf(1)))
	}
}

func checkTime(t testing.TB, tm time.Time) {
	t.Helper()
	got, ok := Time([]byte("x"), tm)
	want := marshal(t, tm)
	if !ok {
		if want != "" || string(got) != "x" {
			t.Fatalf("Time(%v) refused (%q), encoding/json %s", tm, got, want)
		}
		return
	}
	if string(got) != "x"+want {
		t.Fatalf("Time(%v) = %s, encoding/json %s", tm, got, want)
	}
}

func TestTime(t *testing.T) {
	for _, tm := range []time.Time{
		{}, time.Unix(0, 0).UTC(), time.Date(2026, 12, 7, 15, 4, 5, 123456789, time.UTC), time.Date(2026, 12, 7, 15, 4, 5, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC), time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 1, 1, 0, 0, 0, 100, time.FixedZone("x", 5*3600+30*60)),
		time.Date(2026, 1, 1, 0, 0, 0, 0, time.FixedZone("y", -23*3600-59*60-59)), time.Date(2026, 1, 1, 0, 0, 0, 0, time.FixedZone("z", 24*3600)),
		time.Date(2026, 1, 1, 0, 0, 0, 0, time.FixedZone("w", -24*3600)), time.Now(), time.Now().UTC(),
	} {
		checkTime(t, tm)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for range 20000 {
		tm := time.Unix(rng.Int64N(1<<40)-1<<39, rng.Int64N(1e9)).UTC()
		if rng.IntN(4) == 0 {
			tm = tm.Round(time.Duration(rng.Int64N(int64(time.Second)) + 1))
		}
		checkTime(t, tm)
	}
}

func TestBoolKey(t *testing.T) {
	b := append([]byte("{"), Key(nil, "a", true)...)
	b = Bool(b, true)
	b = Key(b, "b", false)
	b = Bool(b, false)
	b = append(b, '}')
	var v struct{ A, B bool }
	if err := json.Unmarshal(b, &v); err != nil || string(b) != `{"a":true,"b":false}` || !v.A || v.B {
		t.Fatalf("%s: %v %+v", b, err, v)
	}
}

func FuzzString(f *testing.F) {
	f.Add("web\u2028<&>\xff")
	f.Fuzz(func(t *testing.T, s string) { checkString(t, s) })
}

func FuzzFloat(f *testing.F) {
	f.Add(uint64(0x3fb999999999999a))
	f.Fuzz(func(t *testing.T, bits uint64) { checkFloat(t, math.Float64frombits(bits)) })
}
