package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
)

// jsonRegister decodes b as decodeBody does (unknown fields refused,
// nothing after the object), for the comparison.
func jsonRegister(b []byte) (registerRequest, error) {
	var req registerRequest
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return req, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return req, errors.New("trailing data")
	}
	return req, nil
}

// regBodies are bodies of the usual form (parseRegister takes them) and
// others (it leaves them to encoding/json).
var (
	usualBodies = []string{
		`{"addresses":["10.1.2.3"],"port":8080,"weight":1,"load":0.37,"lease":7200}`, // bench/bigpool's
		`{"addresses":["192.0.2.99","2001:db8::99:1"],"port":9000,"weight":3,"prio":1,"load":0.5,"site":"ams","lease":30}`,
		`{"addresses": ["192.0.2.10"], "port": 8080, "weight": 10, "lease": 60}`,
		"{\n  \"addresses\": [ \"192.0.2.10\" ,\"192.0.2.11\" ],\n\t\"port\": 80,\r\n \"transport\": \"udp\", \"policy\": \"lu\", \"loaddeg\": 1e-2 }\n",
		`{"addresses":["192.0.2.1"],"port":80,"load":0,"loaddeg":1.5E+0,"lease":-3}`,
		`{"port":0}`,
		`{}`,
		` { } `,
	}
	otherBodies = []string{
		``, ` `, `null`, `[]`, `{`, `{"port":80`, `{"port":80,}`, `{"port":80}x`, `{"port":80} {}`,
		`{"Port":80}`, `{"port":80,"port":81}`, `{"port":"80"}`, `{"port":80.0}`, `{"port":8e1}`, `{"port":-0}`,
		`{"port":65536}`, `{"port":012}`, `{"weight":4294967296}`, `{"weight":99999999999}`, `{"port":null}`,
		`{"load":1e400}`, `{"load":.5}`, `{"load":5.}`, `{"load":+1}`, `{"load":true}`,
		`{"site":"a\"b"}`, `{"site":"\u0061"}`, `{"site":"é"}`, "{\"site\":\"a\tb\"}", `{"site":"a\/b"}`,
		`{"addresses":[]}`, `{"addresses":["a",]}`, `{"addresses":"192.0.2.1"}`, `{"addresses":[1]}`, `{"addresses":null}`,
		`{"wieght":3}`, `{"addresses":["192.0.2.1"],"port":80,"extra":{}}`, "\xef\xbb\xbf{}", `{"port"  80}`,
	}
)

func TestParseRegister(t *testing.T) {
	for _, b := range usualBodies {
		var got registerRequest
		if !parseRegister([]byte(b), &got) {
			t.Errorf("parseRegister(%q) left it to encoding/json", b)
			continue
		}
		want, err := jsonRegister([]byte(b))
		if err != nil {
			t.Fatalf("%q: encoding/json: %v", b, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("parseRegister(%q) = %+v, encoding/json %+v", b, got, want)
		}
	}
	for _, b := range otherBodies {
		var got registerRequest
		if parseRegister([]byte(b), &got) {
			t.Errorf("parseRegister(%q) took it (%+v); want it left to encoding/json", b, got)
		}
	}
	// The usual body costs its strings (here one address) and nothing
	// else.
	b := []byte(usualBodies[0])
	var req registerRequest
	req.Addresses = make([]string, 0, 4)
	if n := testing.AllocsPerRun(100, func() { parseRegister(b, &req) }); n > 1 {
		t.Errorf("parseRegister allocates %.0f times, want 1 (the address)", n)
	}
}

// FuzzParseRegister: whatever parseRegister takes, encoding/json takes too
// and reads the same.
func FuzzParseRegister(f *testing.F) {
	for _, b := range append(usualBodies, otherBodies...) {
		f.Add([]byte(b))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var got registerRequest
		if !parseRegister(b, &got) {
			return
		}
		want, err := jsonRegister(b)
		if err != nil {
			t.Fatalf("parseRegister took %q, encoding/json refuses it: %v", b, err)
		}
		if len(got.Addresses) == 0 && len(want.Addresses) == 0 {
			got.Addresses, want.Addresses = nil, nil
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("parseRegister(%q) = %+v, encoding/json %+v", b, got, want)
		}
	})
}

// TestReadUpTo: the body is read whole up to the limit, and a read error
// is returned with what came before it.
func TestReadUpTo(t *testing.T) {
	body := strings.Repeat("x", 3000)
	b, err := readUpTo(strings.NewReader(body), make([]byte, 0, 10), 5000)
	if err != nil || string(b) != body {
		t.Fatalf("readUpTo: %d bytes, %v", len(b), err)
	}
	b, err = readUpTo(strings.NewReader(body), nil, 100)
	if err != nil || string(b) != body[:100] {
		t.Fatalf("readUpTo limited: %d bytes, %v", len(b), err)
	}
	boom := errors.New("boom")
	b, err = readUpTo(io.MultiReader(strings.NewReader("abc"), errReader{boom}), nil, 100)
	if err != boom || string(b) != "abc" {
		t.Fatalf("readUpTo with an error: %q, %v", b, err)
	}
}
