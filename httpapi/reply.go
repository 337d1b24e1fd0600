package httpapi

import (
	"net/http"
	"strconv"
	"sync"

	"github.com/poolnsd/poolnsd/internal/jsonw"
)

// The reply of a registration (PUT /v1/pools/{pool}/elements/{pe}),
// written field by field: encoding/json's reflection over registerJSON
// and its ElementJSON was a tenth of the API's own CPU per registration
// at a thousand a second (bench/RESULTS.md, reg11). The bytes are
// encoding/json's (reply_test.go compares them on every field); a value
// it would refuse, and ?pretty, go through encoding/json as before.

// writeRegister writes reply as writeJSON would.
func writeRegister(w http.ResponseWriter, r *http.Request, status int, reply *registerJSON) {
	if r.URL.RawQuery != "" { // ?pretty: indented, by encoding/json
		writeJSON(w, r, status, reply)
		return
	}
	bp := replyBufs.Get().(*[]byte)
	b, ok := appendRegister((*bp)[:0], reply)
	if !ok {
		writeJSON(w, r, status, reply)
	} else {
		writeBody(w, r, status, append(b, '\n'), false) // as json.Encoder ends it
	}
	if cap(b) <= bufferKeep {
		*bp = b[:0]
		replyBufs.Put(bp)
	}
}

// replyBufs holds the buffers of writeRegister between replies.
var replyBufs = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// appendRegister appends reply as json.Marshal writes it; false if a value
// is one that encoding/json refuses (then b is to be dropped).
func appendRegister(b []byte, reply *registerJSON) ([]byte, bool) {
	b = append(b, '{')
	b = jsonw.Key(b, "pool", true)
	b = jsonw.String(b, reply.Pool)
	b = jsonw.Key(b, "created", false)
	b = jsonw.Bool(b, reply.Created)
	b = jsonw.Key(b, "lease_s", false)
	b, ok := jsonw.Float(b, reply.LeaseS)
	if !ok {
		return b, false
	}
	b = jsonw.Key(b, "element", false)
	if b, ok = appendElement(b, &reply.Element); !ok {
		return b, false
	}
	return append(b, '}'), true
}

// appendElement appends e as json.Marshal writes an ElementJSON; false if
// a value is one that encoding/json refuses.
func appendElement(b []byte, e *ElementJSON) ([]byte, bool) {
	ok := true
	b = append(b, '{')
	b = jsonw.Key(b, "id", true)
	b = jsonw.String(b, e.ID)
	b = jsonw.Key(b, "label", false)
	b = jsonw.String(b, e.Label)
	b = jsonw.Key(b, "name", false)
	b = jsonw.String(b, e.Name)
	b = jsonw.Key(b, "addresses", false)
	if e.Addresses == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, a := range e.Addresses {
			if i > 0 {
				b = append(b, ',')
			}
			b = jsonw.String(b, a)
		}
		b = append(b, ']')
	}
	b = jsonw.Key(b, "port", false)
	b = strconv.AppendUint(b, uint64(e.Port), 10)
	b = jsonw.Key(b, "transport", false)
	b = jsonw.String(b, e.Transport)
	b = jsonw.Key(b, "weight", false)
	b = strconv.AppendUint(b, uint64(e.Weight), 10)
	b = jsonw.Key(b, "priority", false)
	b = strconv.AppendUint(b, uint64(e.Priority), 10)
	b = jsonw.Key(b, "load", false)
	b, ok = floatAnd(b, e.Load, ok)
	b = jsonw.Key(b, "loaddeg", false)
	b, ok = floatAnd(b, e.LoadDeg, ok)
	b = jsonw.Key(b, "site", false)
	b = jsonw.String(b, e.Site)
	b = jsonw.Key(b, "health", false)
	b = jsonw.String(b, e.Health)
	b = jsonw.Key(b, "admin", false)
	b = jsonw.String(b, e.Admin)
	b = jsonw.Key(b, "reported", false)
	b = jsonw.Bool(b, e.Reported)
	b = jsonw.Key(b, "served", false)
	b = jsonw.Bool(b, e.Served)
	b = jsonw.Key(b, "rtt_ms", false)
	b, ok = floatPtrAnd(b, e.RTTms, ok)
	b = jsonw.Key(b, "local_rtt_ms", false)
	b, ok = floatPtrAnd(b, e.LocalRTTms, ok)
	b = jsonw.Key(b, "home", false)
	b = jsonw.String(b, e.Home)
	b = jsonw.Key(b, "static", false)
	b = jsonw.Bool(b, e.Static)
	b = jsonw.Key(b, "expires", false)
	if e.Expires == nil {
		b = append(b, "null"...)
	} else {
		var tok bool
		b, tok = jsonw.Time(b, *e.Expires)
		ok = ok && tok
	}
	b = jsonw.Key(b, "lease_left_s", false)
	b, ok = floatPtrAnd(b, e.LeaseLeftS, ok)
	b = jsonw.Key(b, "probe", false)
	if p := e.Probe; p == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '{')
		b = jsonw.Key(b, "kind", true)
		b = jsonw.String(b, p.Kind)
		b = jsonw.Key(b, "target", false)
		b = jsonw.String(b, p.Target)
		b = jsonw.Key(b, "interval_ms", false)
		b = strconv.AppendInt(b, p.IntervalMS, 10)
		b = jsonw.Key(b, "timeout_ms", false)
		b = strconv.AppendInt(b, p.TimeoutMS, 10)
		b = jsonw.Key(b, "rise", false)
		b = strconv.AppendInt(b, int64(p.Rise), 10)
		b = jsonw.Key(b, "fall", false)
		b = strconv.AppendInt(b, int64(p.Fall), 10)
		b = jsonw.Key(b, "jitter", false)
		b, ok = floatAnd(b, p.Jitter, ok)
		b = append(b, '}')
	}
	b = jsonw.Key(b, "last_probe", false)
	if l := e.LastProbe; l == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '{')
		b = jsonw.Key(b, "at", true)
		var tok bool
		b, tok = jsonw.Time(b, l.At)
		ok = ok && tok
		b = jsonw.Key(b, "ok", false)
		b = jsonw.Bool(b, l.OK)
		b = jsonw.Key(b, "error", false)
		b = jsonw.String(b, l.Error)
		b = jsonw.Key(b, "rtt_ms", false)
		b, ok = floatAnd(b, l.RTTms, ok)
		b = append(b, '}')
	}
	if e.Disputed {
		b = jsonw.Key(b, "disputed", false)
		b = jsonw.Bool(b, true)
	}
	if e.Last {
		b = jsonw.Key(b, "last", false)
		b = jsonw.Bool(b, true)
	}
	if len(e.Vantage) > 0 {
		b = jsonw.Key(b, "vantage", false)
		b = append(b, '[')
		for i, v := range e.Vantage {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, '{')
			b = jsonw.Key(b, "registrar", true)
			b = jsonw.String(b, v.Registrar)
			b = jsonw.Key(b, "health", false)
			b = jsonw.String(b, v.Health)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	return append(b, '}'), ok
}

// floatAnd appends f, and ok and'ed with whether encoding/json takes it.
func floatAnd(b []byte, f float64, ok bool) ([]byte, bool) {
	b, fok := jsonw.Float(b, f)
	return b, ok && fok
}

// floatPtrAnd is floatAnd for a *float64, null when nil.
func floatPtrAnd(b []byte, f *float64, ok bool) ([]byte, bool) {
	if f == nil {
		return append(b, "null"...), ok
	}
	return floatAnd(b, *f, ok)
}
