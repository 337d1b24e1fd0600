package dnsfront

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/poolnsd/poolnsd/dnsfront/tsigkey"
	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/internal/updatetest"
	"github.com/poolnsd/poolnsd/regcommit"
)

// TSIG over real sockets: the server verifies requests with its keyring
// and signs replies.

// testKeys are the servers' TSIG keys: updatetest.KeyAll for every pool, updatetest.KeyAPI
// (hmac-sha512) for pool api only.
var testKeys = []Key{
	{Name: updatetest.KeyAll, Algorithm: dns.HmacSHA256, Secret: updatetest.Secret},
	{Name: updatetest.KeyAPI, Algorithm: dns.HmacSHA512, Secret: updatetest.Secret, Pools: []string{"api"}},
}

func startUpdServer(t *testing.T) (string, *handlespace.Handlespace) {
	t.Helper()
	hs := newTestSpace(t)
	_, reg := updatetest.Committer(t, hs, regcommit.Config{})
	addr, _ := serveTest(t, Config{Logger: discardLog(), Updates: reg, TSIG: testKeys}, hs)
	return addr, hs
}

// signed packs m signed with key name/alg/secret at time ts.
func signed(t *testing.T, m *dns.Msg, name, alg string, secret []byte, ts time.Time) []byte {
	t.Helper()
	m.SetTsig(name, alg, 300, ts.Unix())
	b, _, err := dns.TsigGenerate(m, base64.StdEncoding.EncodeToString(secret), "", false)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// rawExchange sends b over UDP and returns the reply's bytes.
func rawExchange(t *testing.T, addr string, b []byte) []byte {
	t.Helper()
	c, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write(b); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	n, err := c.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	return buf[:n]
}

func unpack(t *testing.T, b []byte) *dns.Msg {
	t.Helper()
	m := new(dns.Msg)
	if err := m.Unpack(b); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestTSIGOverSockets(t *testing.T) {
	addr, hs := startUpdServer(t)
	registered := func(pool, label string) bool {
		pv := hs.View().Zone("pool.test.").Pool(pool)
		return pv != nil && pv.Label(label) != nil
	}

	// A valid signature: NOERROR, and miekg/dns's client verifies the
	// signed reply.
	c := &dns.Client{Net: "udp", Timeout: 5 * time.Second,
		TsigSecret: map[string]string{updatetest.KeyAll: base64.StdEncoding.EncodeToString(updatetest.Secret)}}
	m := updatetest.Msg(t, updatetest.PE("ok", 80, "192.0.2.1", 30)...)
	m.SetTsig(updatetest.KeyAll, dns.HmacSHA256, 300, time.Now().Unix())
	r, _, err := c.Exchange(m, addr)
	if err != nil || r.Rcode != dns.RcodeSuccess || r.IsTsig() == nil {
		t.Fatalf("signed update: %v %v", r, err)
	}
	if !registered("dyn", "ok") {
		t.Fatal("not registered")
	}
	// hmac-sha512, a key limited to pool api: there it works, over TCP too.
	c512 := &dns.Client{Net: "tcp", Timeout: 5 * time.Second,
		TsigSecret: map[string]string{updatetest.KeyAPI: base64.StdEncoding.EncodeToString(updatetest.Secret)}}
	m = updatetest.Msg(t, "+ x.api.pool.test. 30 IN SRV 0 0 443 x.api.pool.test.", "+ x.api.pool.test. 30 IN A 192.0.2.7")
	m.SetTsig(updatetest.KeyAPI, dns.HmacSHA512, 300, time.Now().Unix())
	if r, _, err := c512.Exchange(m, addr); err != nil || r.Rcode != dns.RcodeSuccess || !registered("api", "x") {
		t.Fatalf("hmac-sha512 update over TCP: %v %v", r, err)
	}

	for _, tc := range []struct {
		name     string
		key, alg string
		secret   []byte
		at       time.Time
		truncate int // MAC bytes kept; 0 all
		rcode    int
		tsigErr  uint16
	}{
		{"wrong secret", updatetest.KeyAll, dns.HmacSHA256, []byte("another secret, 32 bytes long..."), time.Now(), 0, dns.RcodeNotAuth, dns.RcodeBadSig},
		{"unknown key", "nobody.", dns.HmacSHA256, updatetest.Secret, time.Now(), 0, dns.RcodeNotAuth, dns.RcodeBadKey},
		{"wrong algorithm for the key", updatetest.KeyAll, dns.HmacSHA512, updatetest.Secret, time.Now(), 0, dns.RcodeNotAuth, dns.RcodeBadKey},
		{"an hour old", updatetest.KeyAll, dns.HmacSHA256, updatetest.Secret, time.Now().Add(-time.Hour), 0, dns.RcodeNotAuth, dns.RcodeBadTime},
		{"MAC truncated to 8 bytes", updatetest.KeyAll, dns.HmacSHA256, updatetest.Secret, time.Now(), 8, dns.RcodeNotAuth, dns.RcodeBadTrunc},
		{"MAC truncated to 16 bytes (allowed)", updatetest.KeyAll, dns.HmacSHA256, updatetest.Secret, time.Now(), 16, dns.RcodeSuccess, 0},
	} {
		for _, net := range []string{"udp", "tcp"} { // the same path (update.go)
			tc := tc
			tc.name = net + ": " + tc.name
			label := "t" + strconv.Itoa(tc.rcode) + strconv.Itoa(int(tc.tsigErr)) + net
			m := updatetest.Msg(t, updatetest.PE(label, 80, "192.0.2.9", 30)...)
			b := signed(t, m, tc.key, tc.alg, tc.secret, tc.at)
			if tc.truncate > 0 {
				b = truncateMAC(t, b, tc.truncate)
			}
			var rb []byte
			if net == "udp" {
				rb = rawExchange(t, addr, b)
			} else {
				rb = rawExchangeTCP(t, addr, b)[0]
			}
			r := unpack(t, rb)
			ts := r.IsTsig()
			if r.Rcode != tc.rcode || ts == nil || ts.Error != tc.tsigErr {
				t.Errorf("%s: %s TSIG %v, want %s %s", tc.name, updatetest.Rcode(r), ts, dns.RcodeToString[tc.rcode], dns.RcodeToString[int(tc.tsigErr)])
				continue
			}
			if got := registered("dyn", label); got != (tc.rcode == dns.RcodeSuccess) {
				t.Errorf("%s: registered = %v", tc.name, got)
			}
			switch tc.tsigErr {
			case dns.RcodeBadSig, dns.RcodeBadKey:
				if ts.MACSize != 0 {
					t.Errorf("%s: the error reply is signed", tc.name)
				}
			case dns.RcodeBadTime:
				other, _ := hex.DecodeString(ts.OtherData)
				var sec uint64
				for _, x := range other {
					sec = sec<<8 | uint64(x)
				}
				if ts.MACSize == 0 || len(other) != 6 || time.Since(time.Unix(int64(sec), 0)).Abs() > time.Minute {
					t.Errorf("%s: BADTIME reply %v: want it signed with the server's time in Other Data", tc.name, ts)
				}
				// The MAC covers the reply and the request's MAC (RFC 8945
				// §5.3).
				if err := verifyReply(rb, tc.secret, requestMAC(t, b)); err != nil {
					t.Errorf("%s: reply MAC: %v", tc.name, err)
				}
			case 0:
				if int(ts.MACSize) != tc.truncate {
					t.Errorf("%s: reply MAC of %d bytes, want %d like the request's", tc.name, ts.MACSize, tc.truncate)
				}
			}
		}
	}
}

// truncateMAC cuts the MAC of a signed message to n bytes.
func truncateMAC(t *testing.T, b []byte, n int) []byte {
	m := unpack(t, b)
	ts := m.IsTsig()
	ts.MAC = ts.MAC[:2*n]
	ts.MACSize = uint16(n)
	out, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func requestMAC(t *testing.T, b []byte) string { return unpack(t, b).IsTsig().MAC }

// verifyReply checks a reply's MAC. miekg/dns verifies no NOTAUTH reply,
// so this signs the reply again, as it came, and compares the MACs.
func verifyReply(reply, secret []byte, reqMAC string) error {
	kr, err := tsigkey.New([]Key{{Name: updatetest.KeyAll, Algorithm: dns.HmacSHA256, Secret: secret}})
	if err != nil {
		return err
	}
	m := new(dns.Msg)
	if err := m.Unpack(reply); err != nil {
		return err
	}
	got := *m.IsTsig()
	again := got
	again.MAC, again.MACSize = "", 0
	m.Extra[len(m.Extra)-1] = &again
	_, mac, err := dns.TsigGenerateWithProvider(m, kr, reqMAC, false)
	if err != nil {
		return err
	}
	if !strings.EqualFold(mac, got.MAC) {
		return errors.New("the reply's MAC does not verify")
	}
	return nil
}

// TestSetTSIG: keys added, changed and removed while serving take effect
// for the next request over the sockets (the servers' TsigProvider is the
// handler's keyring); a bad set changes nothing.
func TestSetTSIG(t *testing.T) {
	hs := newTestSpace(t)
	_, reg := updatetest.Committer(t, hs, regcommit.Config{})
	addr, srv := serveTest(t, Config{Logger: discardLog(), Updates: reg, TSIG: testKeys[:1]}, hs)

	other := []byte("another secret, 32 bytes long...")
	send := func(label, key string, secret []byte) (int, uint16) {
		t.Helper()
		b := signed(t, updatetest.Msg(t, updatetest.PE(label, 80, "192.0.2.9", 30)...), key, dns.HmacSHA256, secret, time.Now())
		r := unpack(t, rawExchange(t, addr, b))
		var tsigErr uint16
		if ts := r.IsTsig(); ts != nil {
			tsigErr = ts.Error
		}
		return r.Rcode, tsigErr
	}
	const added = "added-key."
	if rc, te := send("a1", added, other); rc != dns.RcodeNotAuth || te != dns.RcodeBadKey {
		t.Fatalf("before it is added: %s/%s, want NOTAUTH/BADKEY", dns.RcodeToString[rc], dns.RcodeToString[int(te)])
	}
	// Added, and updatetest.KeyAll's secret changed.
	if err := srv.Handler().SetTSIG([]Key{
		{Name: updatetest.KeyAll, Algorithm: dns.HmacSHA256, Secret: other},
		{Name: "Added-Key", Algorithm: "HMAC-SHA256", Secret: other},
	}); err != nil {
		t.Fatal(err)
	}
	if rc, te := send("a2", added, other); rc != dns.RcodeSuccess {
		t.Errorf("added key: %s/%s, want NOERROR", dns.RcodeToString[rc], dns.RcodeToString[int(te)])
	}
	if rc, te := send("a3", updatetest.KeyAll, updatetest.Secret); rc != dns.RcodeNotAuth || te != dns.RcodeBadSig {
		t.Errorf("old secret of a changed key: %s/%s, want NOTAUTH/BADSIG", dns.RcodeToString[rc], dns.RcodeToString[int(te)])
	}
	if rc, _ := send("a4", updatetest.KeyAll, other); rc != dns.RcodeSuccess {
		t.Errorf("new secret of a changed key: %s, want NOERROR", dns.RcodeToString[rc])
	}
	// A bad set (a key twice) changes nothing.
	if err := srv.Handler().SetTSIG([]Key{{Name: "x.", Algorithm: dns.HmacSHA256, Secret: other}, {Name: "X", Algorithm: dns.HmacSHA256, Secret: other}}); err == nil {
		t.Error("a key defined twice was accepted")
	}
	if rc, _ := send("a5", added, other); rc != dns.RcodeSuccess {
		t.Errorf("after a refused set: %s, want NOERROR", dns.RcodeToString[rc])
	}
	// Removed.
	if err := srv.Handler().SetTSIG(nil); err != nil {
		t.Fatal(err)
	}
	if rc, te := send("a6", added, other); rc != dns.RcodeNotAuth || te != dns.RcodeBadKey {
		t.Errorf("removed key: %s/%s, want NOTAUTH/BADKEY", dns.RcodeToString[rc], dns.RcodeToString[int(te)])
	}
}
