package tsigkey

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

var (
	secret = []byte("0123456789abcdef0123456789abcdef")
	other  = []byte("another secret, 32 bytes long...")
)

func mustNew(t *testing.T, keys ...Key) *Keyring {
	t.Helper()
	kr, err := New(keys)
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

// TestKeyParsing: a set of keys is taken whole or not at all; names and
// algorithms are compared in lower-case FQDN form; the error names the key
// and what is wrong.
func TestKeyParsing(t *testing.T) {
	for _, c := range []struct {
		name string
		keys []Key
		want string // a part of the error; "" for none
	}{
		{"none", nil, ""},
		{"two good", []Key{{Name: "a.", Algorithm: dns.HmacSHA256, Secret: secret}, {Name: "b", Algorithm: "HMAC-SHA512", Secret: secret}}, ""},
		{"algorithm without its dot", []Key{{Name: "a", Algorithm: "hmac-sha256", Secret: secret}}, ""},
		{"bad name", []Key{{Name: "a..b", Algorithm: dns.HmacSHA256, Secret: secret}}, `key 0: bad name "a..b"`},
		{"root name", []Key{{Name: ".", Algorithm: dns.HmacSHA256, Secret: secret}}, `key 0: bad name "."`},
		{"md5", []Key{{Name: "a.", Algorithm: dns.HmacMD5, Secret: secret}}, `key a.: unsupported algorithm "hmac-md5.sig-alg.reg.int."; want hmac-sha256 or hmac-sha512`},
		{"sha1", []Key{{Name: "a.", Algorithm: dns.HmacSHA1, Secret: secret}}, "unsupported algorithm"},
		{"empty secret", []Key{{Name: "a.", Algorithm: dns.HmacSHA256}}, "key a.: empty secret"},
		{"twice, in other case", []Key{{Name: "a.", Algorithm: dns.HmacSHA256, Secret: secret}, {Name: "A", Algorithm: dns.HmacSHA512, Secret: other}}, "key a. is defined twice"},
		{"the second bad", []Key{{Name: "a.", Algorithm: dns.HmacSHA256, Secret: secret}, {Name: "b.", Algorithm: "hmac-sha3", Secret: secret}}, "key b.: unsupported"},
	} {
		kr, err := New(c.keys)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "tsigkey: ")):
			t.Errorf("%s: %v, want an error with %q", c.name, err, c.want)
		case c.want != "" && kr != nil:
			t.Errorf("%s: a keyring returned with the error", c.name)
		}
	}
	// The key is found whatever the case of the request's names.
	kr := mustNew(t, Key{Name: "Pe-Key", Algorithm: "HMAC-SHA256", Secret: secret})
	if k := kr.Key(&dns.TSIG{Hdr: dns.RR_Header{Name: "pe-KEY."}, Algorithm: "hmac-sha256."}); k == nil || k.Name != "pe-key." || k.Algorithm != dns.HmacSHA256 {
		t.Errorf("key by another case: %+v", k)
	}
	if k := kr.Key(&dns.TSIG{Hdr: dns.RR_Header{Name: "pe-key."}, Algorithm: dns.HmacSHA512}); k != nil {
		t.Errorf("key found under another algorithm: %+v", k)
	}
}

// TestKeyCopied: the keyring keeps copies; changing the caller's slices
// later changes nothing.
func TestKeyCopied(t *testing.T) {
	s := append([]byte(nil), secret...)
	pools := []string{"web"}
	kr := mustNew(t, Key{Name: "k.", Algorithm: dns.HmacSHA256, Secret: s, Pools: pools})
	s[0], pools[0] = 'X', "api"
	k := kr.Key(&dns.TSIG{Hdr: dns.RR_Header{Name: "k."}, Algorithm: dns.HmacSHA256})
	if string(k.Secret) != string(secret) || k.Pools[0] != "web" {
		t.Errorf("the keyring shares the caller's memory: %q %q", k.Secret, k.Pools)
	}
}

func TestAllows(t *testing.T) {
	k := Key{Pools: []string{"web", "API.other.test"}}
	for _, c := range []struct {
		pool string
		want bool
	}{
		{"web.pool.test.", true}, {"web.other.test.", true}, // a handle: in any zone
		{"api.other.test.", true}, {"api.pool.test.", false}, // a pool's name: that pool only
		{"webx.pool.test.", false}, {"pool.test.", false},
	} {
		if got := k.Allows(c.pool); got != c.want {
			t.Errorf("Allows(%s) = %v, want %v", c.pool, got, c.want)
		}
	}
	if all := (Key{}); !all.Allows("anything.test.") {
		t.Error("a key without pools does not allow every pool")
	}
	// Checked on every UPDATE: no garbage, matching or not.
	if n := testing.AllocsPerRun(100, func() {
		k.Allows("api.other.test.")
		k.Allows("webx.pool.test.")
	}); n != 0 {
		t.Errorf("Allows allocates %v times", n)
	}
}

// TestSet: Set replaces the keys whole; a bad set changes nothing.
func TestSet(t *testing.T) {
	kr := mustNew(t, Key{Name: "old.", Algorithm: dns.HmacSHA256, Secret: secret})
	has := func(name string) bool {
		return kr.Key(&dns.TSIG{Hdr: dns.RR_Header{Name: name}, Algorithm: dns.HmacSHA256}) != nil
	}
	if err := kr.Set([]Key{{Name: "new.", Algorithm: dns.HmacSHA256, Secret: other}}); err != nil {
		t.Fatal(err)
	}
	if has("old.") || !has("new.") {
		t.Errorf("after Set: old %v new %v, want false true", has("old."), has("new."))
	}
	if err := kr.Set([]Key{{Name: "x.", Algorithm: dns.HmacSHA256, Secret: other}, {Name: "bad.", Algorithm: dns.HmacSHA256}}); err == nil {
		t.Fatal("a set with an empty secret accepted")
	}
	if has("x.") || !has("new.") {
		t.Errorf("after a refused Set: x %v new %v, want false true", has("x."), has("new."))
	}
	if err := kr.Set(nil); err != nil || has("new.") {
		t.Errorf("Set(nil): %v, new still known: %v", err, has("new."))
	}
}

// signedBytes packs an UPDATE signed by name/alg with secret at ts, as a
// client does (miekg/dns's own signing).
func signedBytes(t *testing.T, name, alg string, secret []byte, ts time.Time) []byte {
	t.Helper()
	m := new(dns.Msg)
	m.SetUpdate("pool.test.")
	m.SetTsig(name, alg, 300, ts.Unix())
	client := mustNew(t, Key{Name: name, Algorithm: alg, Secret: secret})
	b, _, err := dns.TsigGenerateWithProvider(m, client, "", false)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestVerify: a request signed by a client, as the server verifies it
// through the keyring (dns.TsigVerifyWithProvider): the right key passes;
// an unknown key or another algorithm is BADKEY, another secret BADSIG, a
// time outside the fudge BADTIME (the server's check, after the MAC).
func TestVerify(t *testing.T) {
	kr := mustNew(t, Key{Name: "k.", Algorithm: dns.HmacSHA256, Secret: secret}, Key{Name: "k512.", Algorithm: dns.HmacSHA512, Secret: secret})
	now := time.Now()
	for _, c := range []struct {
		name string
		b    []byte
		want uint16 // the TSIG error; 0: verified
	}{
		{"hmac-sha256", signedBytes(t, "k.", dns.HmacSHA256, secret, now), 0},
		{"hmac-sha512", signedBytes(t, "k512.", dns.HmacSHA512, secret, now), 0},
		{"unknown key", signedBytes(t, "nope.", dns.HmacSHA256, secret, now), dns.RcodeBadKey},
		{"another algorithm", signedBytes(t, "k.", dns.HmacSHA512, secret, now), dns.RcodeBadKey},
		{"another secret", signedBytes(t, "k.", dns.HmacSHA256, other, now), dns.RcodeBadSig},
		{"an hour old", signedBytes(t, "k.", dns.HmacSHA256, secret, now.Add(-time.Hour)), dns.RcodeBadTime},
		{"an hour ahead", signedBytes(t, "k.", dns.HmacSHA256, secret, now.Add(time.Hour)), dns.RcodeBadTime},
	} {
		err := dns.TsigVerifyWithProvider(c.b, kr, "", false)
		switch {
		case c.want == 0 && err != nil:
			t.Errorf("%s: %v, want verified", c.name, err)
		case c.want != 0 && err == nil:
			t.Errorf("%s: verified, want %s", c.name, dns.RcodeToString[int(c.want)])
		case c.want != 0 && ErrorCode(err) != c.want:
			t.Errorf("%s: %v (%s), want %s", c.name, err, dns.RcodeToString[int(ErrorCode(err))], dns.RcodeToString[int(c.want)])
		}
	}
}

// TestTruncatedMAC: RFC 8945 §5.2.2.1: a MAC truncated down to max(10
// bytes, half its length) verifies, shorter is BADTRUNC; a longer or
// empty MAC, or one that is not hex, is BADSIG. Generate truncates a
// reply's MAC to the MACSize asked.
func TestTruncatedMAC(t *testing.T) {
	kr := mustNew(t, Key{Name: "k.", Algorithm: dns.HmacSHA256, Secret: secret}, Key{Name: "k512.", Algorithm: dns.HmacSHA512, Secret: secret})
	msg := []byte("the bytes a MAC covers")
	for _, c := range []struct {
		key  string
		alg  string
		n    int // bytes of the MAC kept; -1: one byte more; -2: not hex
		want error
	}{
		{"k.", dns.HmacSHA256, 32, nil}, {"k.", dns.HmacSHA256, 16, nil}, {"k.", dns.HmacSHA256, 15, ErrBadTrunc},
		{"k.", dns.HmacSHA256, 10, ErrBadTrunc}, {"k.", dns.HmacSHA256, 0, ErrBadSig}, {"k.", dns.HmacSHA256, -1, ErrBadSig},
		{"k.", dns.HmacSHA256, -2, ErrBadSig},
		{"k512.", dns.HmacSHA512, 32, nil}, {"k512.", dns.HmacSHA512, 31, ErrBadTrunc},
	} {
		tsig := &dns.TSIG{Hdr: dns.RR_Header{Name: c.key}, Algorithm: c.alg}
		full, err := kr.Generate(msg, tsig)
		if err != nil {
			t.Fatal(err)
		}
		var mac string
		switch c.n {
		case -1:
			mac = hex.EncodeToString(append(full, 0))
		case -2:
			mac = "zz" + hex.EncodeToString(full)[2:]
		default:
			mac = hex.EncodeToString(full[:c.n])
		}
		tsig.MAC = mac
		if err := kr.Verify(msg, tsig); !errors.Is(err, c.want) && !(err == nil && c.want == nil) {
			t.Errorf("%s, MAC of %d bytes: %v, want %v", c.alg, c.n, err, c.want)
		}
		// A message that differs in one bit is BADSIG, whatever the
		// MAC's length.
		if c.want == nil {
			bad := append([]byte(nil), msg...)
			bad[0] ^= 1
			if err := kr.Verify(bad, tsig); !errors.Is(err, ErrBadSig) {
				t.Errorf("%s, %d bytes, another message: %v, want BADSIG", c.alg, c.n, err)
			}
		}
	}
	tsig := &dns.TSIG{Hdr: dns.RR_Header{Name: "k."}, Algorithm: dns.HmacSHA256, MACSize: 16}
	if mac, err := kr.Generate(msg, tsig); err != nil || len(mac) != 16 {
		t.Errorf("Generate with MACSize 16: %d bytes, %v", len(mac), err)
	}
	if _, err := kr.Generate(msg, &dns.TSIG{Hdr: dns.RR_Header{Name: "nope."}, Algorithm: dns.HmacSHA256}); !errors.Is(err, ErrBadKey) {
		t.Errorf("Generate with an unknown key: %v, want ErrBadKey", err)
	}
}

func TestErrorCode(t *testing.T) {
	for _, c := range []struct {
		err  error
		want uint16
	}{
		{ErrBadKey, dns.RcodeBadKey}, {dns.ErrSecret, dns.RcodeBadKey}, {dns.ErrKeyAlg, dns.RcodeBadKey},
		{ErrBadSig, dns.RcodeBadSig}, {dns.ErrSig, dns.RcodeBadSig}, {dns.ErrTime, dns.RcodeBadTime},
		{ErrBadTrunc, dns.RcodeBadTrunc}, {errors.New("anything else"), dns.RcodeBadSig},
	} {
		if got := ErrorCode(c.err); got != c.want {
			t.Errorf("ErrorCode(%v) = %s, want %s", c.err, dns.RcodeToString[int(got)], dns.RcodeToString[int(c.want)])
		}
	}
}

// TestSignReplyLen: a reply signed as SignReply asks is as long as Len
// says, for full and truncated MACs of both algorithms; its MAC verifies
// for a client that knows the key.
func TestSignReplyLen(t *testing.T) {
	kr := mustNew(t, Key{Name: "a-rather-long-key-name.example.", Algorithm: dns.HmacSHA256, Secret: secret},
		Key{Name: "k512.", Algorithm: dns.HmacSHA512, Secret: secret})
	for _, c := range []struct {
		key, alg string
		macSize  uint16
	}{
		{"a-rather-long-key-name.example.", dns.HmacSHA256, 0}, {"k512.", dns.HmacSHA512, 0}, {"k512.", dns.HmacSHA512, 32},
	} {
		req := &dns.TSIG{Hdr: dns.RR_Header{Name: c.key}, Algorithm: c.alg, Fudge: 300, MACSize: c.macSize}
		m := new(dns.Msg)
		m.SetQuestion("web.pool.test.", dns.TypeA)
		m.Response = true
		unsigned, _ := m.Pack()
		SignReply(m, req)
		b, _, err := dns.TsigGenerateWithProvider(m, kr, "", false)
		if err != nil {
			t.Fatal(err)
		}
		if got := len(b) - len(unsigned); got > Len(req) {
			t.Errorf("%s MACSize %d: the TSIG takes %d bytes, Len says %d", c.alg, c.macSize, got, Len(req))
		} else if c.alg == dns.HmacSHA512 && got != Len(req) {
			t.Errorf("%s MACSize %d: the TSIG takes %d bytes, Len says %d", c.alg, c.macSize, got, Len(req))
		}
		if c.macSize == 0 {
			if err := dns.TsigVerifyWithProvider(b, kr, "", false); err != nil {
				t.Errorf("%s: the signed reply does not verify: %v", c.alg, err)
			}
		}
	}
}

func TestOf(t *testing.T) {
	tsig := &dns.TSIG{Hdr: dns.RR_Header{Name: "k.", Rrtype: dns.TypeTSIG, Class: dns.ClassANY}, Algorithm: dns.HmacSHA256}
	a := &dns.A{Hdr: dns.RR_Header{Name: "x.", Rrtype: dns.TypeA, Class: dns.ClassINET}, A: net.IPv4(192, 0, 2, 1)}
	opt := &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}}
	for _, c := range []struct {
		name          string
		answer, extra []dns.RR
		want          *dns.TSIG
		err           string
	}{
		{"unsigned", nil, []dns.RR{opt}, nil, ""},
		{"last", nil, []dns.RR{opt, tsig}, tsig, ""},
		{"not last", nil, []dns.RR{tsig, a}, nil, "not last"},
		{"in the answer section", []dns.RR{tsig}, nil, nil, "outside the additional section"},
	} {
		got, err := Of(&dns.Msg{Answer: c.answer, Extra: c.extra})
		if got != c.want || (err == nil) != (c.err == "") || (err != nil && !strings.Contains(err.Error(), c.err)) {
			t.Errorf("%s: %v, %v; want %v, %q", c.name, got, err, c.want, c.err)
		}
	}
}

// replyRecorder is a ResponseWriter that keeps what is written, as
// message or bytes, and signs nothing.
type replyRecorder struct {
	dns.ResponseWriter
	msg   *dns.Msg
	bytes bool // written with Write (not WriteMsg)
}

func (w *replyRecorder) WriteMsg(m *dns.Msg) error { w.msg = m; return nil }
func (w *replyRecorder) Write(b []byte) (int, error) {
	w.msg, w.bytes = new(dns.Msg), true
	return len(b), w.msg.Unpack(b)
}

// TestWriteFailure: RFC 8945 §5.2: NOTAUTH with the TSIG error; BADKEY and
// BADSIG unsigned (written as bytes, an empty MAC), BADTIME with the
// server's time in Other Data for the server to sign, BADTRUNC signed too.
func TestWriteFailure(t *testing.T) {
	r := new(dns.Msg)
	r.SetUpdate("pool.test.")
	r.Id = 4711
	r.SetTsig("k.", dns.HmacSHA256, 300, 1_000_000)
	req := r.IsTsig()
	for _, c := range []struct {
		st     error
		code   uint16
		signed bool
	}{
		{ErrBadKey, dns.RcodeBadKey, false}, {ErrBadSig, dns.RcodeBadSig, false},
		{dns.ErrTime, dns.RcodeBadTime, true}, {ErrBadTrunc, dns.RcodeBadTrunc, true},
	} {
		w := &replyRecorder{}
		before := time.Now().Unix()
		if err := WriteFailure(w, r, req, c.st); err != nil {
			t.Fatalf("%v: %v", c.st, err)
		}
		m := w.msg
		ts := m.IsTsig()
		if m.Id != 4711 || m.Rcode != dns.RcodeNotAuth || ts == nil || ts.Error != c.code || ts.Hdr.Name != "k." {
			t.Errorf("%v: reply %v; want ID 4711, NOTAUTH, TSIG error %s", c.st, m, dns.RcodeToString[int(c.code)])
			continue
		}
		if w.bytes == c.signed {
			t.Errorf("%v: written as bytes %v, want %v (bytes: not signed by the server)", c.st, w.bytes, !c.signed)
		}
		if !c.signed && ts.MAC != "" {
			t.Errorf("%v: the reply carries a MAC %q", c.st, ts.MAC)
		}
		if c.code == dns.RcodeBadTime {
			now, err := strconv.ParseUint(ts.OtherData, 16, 64)
			if ts.OtherLen != 6 || err != nil || int64(now) < before || int64(now) > time.Now().Unix() {
				t.Errorf("BADTIME: other data %q (%d bytes), want the server's time", ts.OtherData, ts.OtherLen)
			}
		}
	}
}

// TestMACsReused: a key's MAC computers are kept and reset between uses
// (concurrent ones too): every MAC is the HMAC of its message alone, with
// its key's secret and algorithm, whatever came before, and a failed
// verification leaves nothing behind. The algorithm's name is compared
// as an FQDN in any case ("HMAC-SHA256", "hmac-sha256.").
func TestMACsReused(t *testing.T) {
	kr := mustNew(t, Key{Name: "k.", Algorithm: dns.HmacSHA256, Secret: secret}, Key{Name: "k512.", Algorithm: dns.HmacSHA512, Secret: other})
	want := func(alg string, msg []byte) []byte {
		h := hmac.New(sha256.New, secret)
		if alg == dns.HmacSHA512 {
			h = hmac.New(sha512.New, other)
		}
		h.Write(msg)
		return h.Sum(nil)
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				msg := []byte(fmt.Sprintf("message %d of goroutine %d", i, g))
				for _, c := range [][2]string{{"k.", dns.HmacSHA256}, {"K.", "HMAC-SHA256"}, {"k512.", dns.HmacSHA512}, {"K512.", "hmac-sha512"}} {
					tsig := &dns.TSIG{Hdr: dns.RR_Header{Name: c[0]}, Algorithm: c[1]}
					mac, err := kr.Generate(msg, tsig)
					if err != nil || !hmac.Equal(mac, want(dns.Fqdn(strings.ToLower(c[1])), msg)) {
						t.Errorf("%s %s: MAC %x, %v", c[0], c[1], mac, err)
						return
					}
					tsig.MAC = hex.EncodeToString(mac)
					if err := kr.Verify(append(msg, 'x'), tsig); !errors.Is(err, ErrBadSig) {
						t.Errorf("%s: another message: %v, want BADSIG", c[0], err)
					}
					if err := kr.Verify(msg, tsig); err != nil {
						t.Errorf("%s: after a failure: %v", c[0], err)
					}
				}
			}
		}()
	}
	wg.Wait()
	if kr.Key(&dns.TSIG{Hdr: dns.RR_Header{Name: "k."}, Algorithm: "hmac-sha256.x"}) != nil ||
		kr.Key(&dns.TSIG{Hdr: dns.RR_Header{Name: "k."}, Algorithm: "hmac-sha25"}) != nil {
		t.Error("a key found under another algorithm's name")
	}
}

// TestVerifyAllocates: verifying a MAC, and signing a reply into a
// buffer with room, allocate nothing once the key's MAC computer is made.
func TestVerifyAllocates(t *testing.T) {
	if raceOn {
		t.Skip("sync.Pool drops at random under the race detector")
	}
	kr := mustNew(t, Key{Name: "k.", Algorithm: dns.HmacSHA256, Secret: secret})
	msg := []byte("the bytes a MAC covers")
	tsig := &dns.TSIG{Hdr: dns.RR_Header{Name: "k."}, Algorithm: dns.HmacSHA256}
	mac, _ := kr.Generate(msg, tsig)
	tsig.MAC = hex.EncodeToString(mac)
	if n := testing.AllocsPerRun(100, func() {
		if err := kr.Verify(msg, tsig); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("Verify: %v allocations, want 0", n)
	}
	reply := make([]byte, 12, 512)
	if n := testing.AllocsPerRun(100, func() {
		if _, err := kr.AppendSigned(reply[:12], tsig, time.Now()); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("AppendSigned: %v allocations, want 0", n)
	}
}

// TestAppendSigned: a reply signed by AppendSigned is byte for byte the
// one the server's writer made (SignReply, then miekg/dns's
// TsigGenerateWithProvider with the keyring), for keys of both
// algorithms, names in any case, a fudge of 0 (300 s) or other, full and
// truncated request MACs; a client verifies it; an unknown key is BADKEY
// and leaves the reply as it was.
func TestAppendSigned(t *testing.T) {
	kr := mustNew(t, Key{Name: "k.", Algorithm: dns.HmacSHA256, Secret: secret}, Key{Name: "k512.", Algorithm: dns.HmacSHA512, Secret: other})
	now := time.Unix(1780000000, 0)
	for _, c := range []struct {
		name, alg string
		fudge     uint16
		macLen    int // the request's MAC, bytes
	}{
		{"k.", dns.HmacSHA256, 300, 32},
		{"K.", "HMAC-SHA256.", 300, 32},
		{"k.", "hmac-sha256", 0, 32},
		{"k.", dns.HmacSHA256, 17, 16},
		{"k512.", dns.HmacSHA512, 300, 64},
		{"k512.", dns.HmacSHA512, 300, 40},
	} {
		reqMAC := make([]byte, c.macLen)
		for i := range reqMAC {
			reqMAC[i] = byte(i*7 + c.macLen)
		}
		req := &dns.TSIG{Hdr: dns.RR_Header{Name: c.name, Rrtype: dns.TypeTSIG, Class: dns.ClassANY}, Algorithm: c.alg,
			TimeSigned: uint64(now.Unix() - 5), Fudge: c.fudge, MACSize: uint16(c.macLen), MAC: hex.EncodeToString(reqMAC), OrigId: 77}
		for _, rcode := range []int{dns.RcodeSuccess, dns.RcodeRefused} {
			m := new(dns.Msg)
			m.SetUpdate("pool.test.")
			m.Id, m.Response, m.Rcode = 0x4321, true, rcode
			m.SetEdns0(1232, false)
			reply, err := m.Pack()
			if err != nil {
				t.Fatal(err)
			}
			// The server's writer's way.
			SignReply(m, req)
			m.IsTsig().TimeSigned = uint64(now.Unix())
			want, _, werr := dns.TsigGenerateWithProvider(m, kr, req.MAC, false)
			got, err := kr.AppendSigned(append([]byte(nil), reply...), req, now)
			if werr != nil {
				// An algorithm name not fully qualified (never one a
				// request's TSIG unpacks to) does not pack, either way.
				if err == nil {
					t.Errorf("%s %s: signed, where the writer failed: %v", c.name, c.alg, werr)
				}
				continue
			}
			if err != nil || string(got) != string(want) {
				t.Errorf("%s %s MAC %d, rcode %d: %v\n got %x\nwant %x", c.name, c.alg, c.macLen, rcode, err, got, want)
				continue
			}
			sec := secret
			if c.name == "k512." {
				sec = other
			}
			if err := tsigVerifyAt(got, sec, req.MAC, now); err != nil {
				t.Errorf("%s: a client does not verify the reply: %v", c.name, err)
			}
		}
	}
	reply := []byte("0123456789ab")
	got, err := kr.AppendSigned(reply, &dns.TSIG{Hdr: dns.RR_Header{Name: "nope."}, Algorithm: dns.HmacSHA256, MAC: "00"}, now)
	if !errors.Is(err, ErrBadKey) || string(got) != string(reply) {
		t.Errorf("unknown key: %q, %v; want the reply as it was and ErrBadKey", got, err)
	}
}

// tsigVerifyAt verifies a signed message as a client with the secret,
// whose request had reqMAC, checking the time against now.
func tsigVerifyAt(b, secret []byte, reqMAC string, now time.Time) error {
	prov := dnsTestProvider(secret)
	b = append([]byte(nil), b...)
	err := dns.TsigVerifyWithProvider(b, prov, reqMAC, false)
	if errors.Is(err, dns.ErrTime) && time.Since(now) > time.Hour {
		return nil // the MAC verified; the time is the test's own
	}
	return err
}

// dnsTestProvider is a client's TSIG provider of one secret.
type dnsTestProvider []byte

func (p dnsTestProvider) Generate(msg []byte, t *dns.TSIG) ([]byte, error) {
	h := hmac.New(sha256.New, p)
	if strings.EqualFold(dns.Fqdn(t.Algorithm), dns.HmacSHA512) {
		h = hmac.New(sha512.New, p)
	}
	h.Write(msg)
	return h.Sum(nil), nil
}

func (p dnsTestProvider) Verify(msg []byte, t *dns.TSIG) error {
	mac, _ := p.Generate(msg, t)
	got, err := hex.DecodeString(t.MAC)
	if err != nil || !hmac.Equal(got, mac[:len(got)]) {
		return dns.ErrSig
	}
	return nil
}

// FuzzVerifyRequest: VerifyRequest's verdict on a signed request is miekg/dns's
// TsigVerifyWithProvider's (the server's writer's until now): the same
// TSIG error (ErrorCode), or none, for any message that unpacks, signed
// by a key of the keyring or another, at a time inside or outside the
// fudge, a bit of it flipped or none.
func FuzzVerifyRequest(f *testing.F) {
	kr, err := New([]Key{{Name: "k.", Algorithm: dns.HmacSHA256, Secret: secret}, {Name: "k512.", Algorithm: dns.HmacSHA512, Secret: other}})
	if err != nil {
		f.Fatal(err)
	}
	upd := new(dns.Msg)
	upd.SetUpdate("pool.test.")
	rr, _ := dns.NewRR("x.dyn.pool.test. 30 IN A 192.0.2.1")
	upd.Insert([]dns.RR{rr})
	upd.SetEdns0(1232, false)
	q := new(dns.Msg)
	q.SetQuestion("Web.Pool.Test.", dns.TypeA)
	for _, m := range []*dns.Msg{upd, q} {
		b, err := m.Pack()
		if err != nil {
			f.Fatal(err)
		}
		for key := range 3 {
			f.Add(b, uint8(key), int64(0), uint16(300), uint16(0xFFFF), false)
			f.Add(b, uint8(key), int64(-400), uint16(300), uint16(0xFFFF), true)
			f.Add(b, uint8(key), int64(10), uint16(0), uint16(5), false)
			f.Add(b, uint8(key), int64(1), uint16(20), uint16(len(b)+3), false)
		}
	}
	keys := []struct {
		name, alg string
		secret    []byte
	}{{"k.", dns.HmacSHA256, secret}, {"k512.", dns.HmacSHA512, other}, {"nope.", dns.HmacSHA256, secret}}
	f.Fuzz(func(t *testing.T, data []byte, key uint8, skew int64, fudge uint16, flip uint16, upper bool) {
		m := new(dns.Msg)
		if err := m.Unpack(data); err != nil {
			return
		}
		noTSIG := func(rrs []dns.RR) []dns.RR {
			return slices.DeleteFunc(rrs, func(rr dns.RR) bool { return rr.Header().Rrtype == dns.TypeTSIG })
		}
		m.Answer, m.Ns, m.Extra = noTSIG(m.Answer), noTSIG(m.Ns), noTSIG(m.Extra)
		k := keys[int(key)%len(keys)]
		name := k.name
		if upper {
			name = strings.ToUpper(name)
		}
		now := time.Now()
		if skew > 1e6 || skew < -1e6 || nearFudge(skew, fudge) {
			return // at the edge of the fudge the two clocks may read apart
		}
		m.SetTsig(name, k.alg, fudge, now.Unix()+skew)
		wire, _, err := dns.TsigGenerate(m, base64.StdEncoding.EncodeToString(k.secret), "", false)
		if err != nil {
			return
		}
		if int(flip) < len(wire)*8 {
			wire[flip/8] ^= 1 << (flip % 8)
		}
		r := new(dns.Msg)
		if err := r.Unpack(wire); err != nil {
			return
		}
		ts := r.IsTsig()
		if ts == nil {
			return
		}
		off := lastRecord(t, wire)
		want := dns.TsigVerifyWithProvider(append([]byte(nil), wire...), kr, "", false)
		got := kr.VerifyRequest(wire, off, ts, time.Now())
		if (got == nil) != (want == nil) || ErrorCode(got) != ErrorCode(want) {
			t.Fatalf("VerifyRequest: %v, TsigVerifyWithProvider: %v\n%v", got, want, r)
		}
	})
}

// nearFudge: the time skew seconds off is within 3 s of the fudge's
// edge (300 s for 0).
func nearFudge(skew int64, fudge uint16) bool {
	f := int64(fudge)
	if f == 0 {
		f = 300
	}
	d := max(skew, -skew) - f
	return d > -3 && d < 3
}

// lastRecord is the offset of the last record of the message b.
func lastRecord(t *testing.T, b []byte) int {
	u := func(i int) int { return int(binary.BigEndian.Uint16(b[i:])) }
	qd, n := u(4), u(6)+u(8)+u(10)
	off := 12
	for range qd {
		_, o, err := dns.UnpackDomainName(b, off)
		if err != nil {
			t.Fatal(err)
		}
		off = o + 4
	}
	last := off
	for range n {
		last = off
		_, o, err := dns.UnpackRR(b, off)
		if err != nil {
			t.Fatal(err)
		}
		off = o
	}
	return last
}
