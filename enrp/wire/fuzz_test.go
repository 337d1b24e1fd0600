package wire

import (
	"errors"
	"reflect"
	"testing"
)

// FuzzDecode checks that Decode never panics, that what it accepts encodes
// back to a message that decodes to the same, and that the ERROR answering
// what it refuses is itself well-formed. Seeds: samples() (one message of
// every type) and testdata/fuzz/FuzzDecode (those and broken variants).
func FuzzDecode(f *testing.F) {
	for _, m := range samples() {
		b, err := m.Encode()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Decode(b)
		if err != nil {
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("Decode error %T %v is not a *DecodeError", err, err)
			}
			if em := ErrorFor(err, 1, 2); em != nil {
				eb, err := em.Encode()
				if err != nil {
					t.Fatalf("encode the ERROR for %v: %v", de, err)
				}
				if _, err := Decode(eb); err != nil {
					t.Fatalf("the ERROR for %v does not decode: %v", de, err)
				}
			}
			return
		}
		if em := ReportUnrecognized(m, 2); em != nil {
			eb, err := em.Encode()
			if err != nil {
				t.Fatalf("encode the report: %v", err)
			}
			if _, err := Decode(eb); err != nil {
				t.Fatalf("the report does not decode: %v", err)
			}
		}
		m.Unrecognized = nil
		b2, err := m.Encode()
		if err != nil {
			t.Fatalf("decoded %v does not encode: %v", m, err)
		}
		m2, err := Decode(b2)
		if err != nil {
			t.Fatalf("re-encoded %v does not decode: %v", m, err)
		}
		if !reflect.DeepEqual(m, m2) {
			t.Fatalf("round trip differs:\n first %+v\nsecond %+v", m, m2)
		}
	})
}
