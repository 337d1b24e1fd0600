package cookie

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

func secret(t testing.TB, s string) Secret {
	t.Helper()
	sec, err := ParseSecret(s)
	if err != nil {
		t.Fatal(err)
	}
	return sec
}

// TestSipHash24Vectors checks sipHash24 against the 64 vectors of the
// reference implementation: key 00 01 .. 0f, messages 00 01 .. of every
// length 0..63.
func TestSipHash24Vectors(t *testing.T) {
	f, err := os.Open("testdata/siphash24.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var key [16]byte
	for i := range key {
		key[i] = byte(i)
	}
	k0, k1 := binary.LittleEndian.Uint64(key[:8]), binary.LittleEndian.Uint64(key[8:])
	msg := make([]byte, 64)
	for i := range msg {
		msg[i] = byte(i)
	}
	n := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") || line == "" {
			continue
		}
		want := unhex(t, line)
		var got [8]byte
		binary.LittleEndian.PutUint64(got[:], sipHash24(k0, k1, msg[:n]))
		if !bytes.Equal(got[:], want) {
			t.Errorf("message of %d bytes: %x, want %x", n, got, want)
		}
		n++
	}
	if n != 64 {
		t.Fatalf("read %d vectors, want 64", n)
	}
	// The example of the SipHash paper (Appendix A): the 15-byte message.
	if got := sipHash24(k0, k1, msg[:15]); got != 0xa129ca6149be45e5 {
		t.Errorf("paper's example: %x, want a129ca6149be45e5", got)
	}
}

// TestRFC9018Examples replays the four exchanges of RFC 9018 Appendix A:
// each query's cookie is checked and each reply's COOKIE option is built
// byte for byte.
func TestRFC9018Examples(t *testing.T) {
	const (
		secretA = "e5e973e5a6b2a43f48e7dc849e37bfcf"
		oldB    = "dd3bdf9344b678b185a6f5cb60fca715"
		newB    = "445536bcd2513298075a5d379663c962"
	)
	for _, tc := range []struct {
		name     string
		current  string
		previous string
		client   string // the client's address
		query    string // the query's COOKIE option data
		now      int64
		status   Status
		reply    string // the reply's COOKIE option data
	}{
		{
			name:    "A.1 learning a new server cookie",
			current: secretA, client: "198.51.100.100",
			query:  "2464c4abcf10c957",
			now:    1559731985, // Wed Jun  5 10:53:05 UTC 2019
			status: ClientOnly,
			reply:  "2464c4abcf10c957010000005cf79f111f8130c3eee29480",
		},
		{
			name:    "A.2 the same client 40 minutes later: renewed",
			current: secretA, client: "198.51.100.100",
			query:  "2464c4abcf10c957010000005cf79f111f8130c3eee29480",
			now:    1559734385,
			status: ValidRenew, // older than half an hour
			reply:  "2464c4abcf10c957010000005cf7a871d4a564a1442aca77",
		},
		{
			// The example's query comes 1h52m after its cookie's
			// timestamp (09:46:25), beyond the hour of §4.3 that this
			// server keeps: invalid here (the example calls it valid).
			// The reply's cookie is the example's all the same.
			name:    "A.3 another client with reserved bytes set, 1h52m old",
			current: secretA, client: "203.0.113.203",
			query:  "fc93fc62807ddb8601abcdef5cf78f71a314227b6679ebf5",
			now:    1559734700,
			status: Invalid,
			reply:  "fc93fc62807ddb86010000005cf7a9acf73a7810aca2381e",
		},
		{
			name:    "A.3's cookie within its hour: valid, renewed for its reserved bytes",
			current: secretA, client: "203.0.113.203",
			query:  "fc93fc62807ddb8601abcdef5cf78f71a314227b6679ebf5",
			now:    1559727985 + 60,
			status: ValidRenew,
		},
		{
			name:    "A.4 IPv6 with a rolled-over secret",
			current: newB, previous: oldB, client: "2001:db8:220:1:59de:d0f4:8769:82b8",
			query:  "22681ab97d52c298010000005cf7c57926556bd0934c72f8",
			now:    1559741961,
			status: ValidRenew, // made with the previous secret
			reply:  "22681ab97d52c298010000005cf7c609a6bb79d16625507a",
		},
		{
			name:    "A.4 once the old secret is dropped",
			current: newB, client: "2001:db8:220:1:59de:d0f4:8769:82b8",
			query:  "22681ab97d52c298010000005cf7c57926556bd0934c72f8",
			now:    1559741961,
			status: Invalid,
			reply:  "22681ab97d52c298010000005cf7c609a6bb79d16625507a",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := Secrets{Current: secret(t, tc.current)}
			if tc.previous != "" {
				p := secret(t, tc.previous)
				s.Previous = &p
			}
			j := NewJar(s)
			ip := netip.MustParseAddr(tc.client)
			now := time.Unix(tc.now, 0)
			var o Option
			st := j.Check(unhex(t, tc.query), ip, now, &o)
			if st != tc.status {
				t.Fatalf("status %v, want %v", st, tc.status)
			}
			if tc.reply == "" {
				return
			}
			got := j.AppendOption(nil, &o, st, ip, now)
			want := append([]byte{0, OptionCode, 0, 24}, unhex(t, tc.reply)...)
			if !bytes.Equal(got, want) {
				t.Errorf("reply option %x, want %x", got, want)
			}
			if h := j.ReplyHex(&o, st, ip, now); h != tc.reply {
				t.Errorf("ReplyHex %s, want %s", h, tc.reply)
			}
		})
	}
}

// TestCheck covers the statuses of RFC 7873 §5.2 and the times of RFC 9018
// §4.3 around one cookie handed out at t0 to 192.0.2.1.
func TestCheck(t *testing.T) {
	j := NewJar(Secrets{Current: secret(t, "e5e973e5a6b2a43f48e7dc849e37bfcf")})
	client := netip.MustParseAddr("192.0.2.1")
	t0 := time.Unix(1_700_000_000, 0)
	cc := [8]byte{1, 2, 3, 4, 5, 6, 7, 8}
	sc := j.ServerCookie(&cc, client, t0)
	good := append(cc[:], sc[:]...)
	with := func(f func(b []byte)) []byte {
		b := bytes.Clone(good)
		f(b)
		return b
	}
	for _, tc := range []struct {
		name   string
		data   []byte
		from   string
		at     time.Duration // after t0
		status Status
	}{
		{"empty option", nil, "192.0.2.1", 0, Malformed},
		{"7 bytes", good[:7], "192.0.2.1", 0, Malformed},
		{"client cookie only", good[:8], "192.0.2.1", 0, ClientOnly},
		{"9 bytes", good[:9], "192.0.2.1", 0, Malformed},
		{"15 bytes", good[:15], "192.0.2.1", 0, Malformed},
		{"8-byte server cookie: not ours", good[:16], "192.0.2.1", 0, Invalid},
		{"41 bytes", append(bytes.Clone(good), make([]byte, 17)...), "192.0.2.1", 0, Malformed},
		{"40 bytes: a 32-byte server cookie, not ours", append(bytes.Clone(good), make([]byte, 16)...), "192.0.2.1", 0, Invalid},
		{"fresh", good, "192.0.2.1", 0, Valid},
		{"IPv4-mapped source address", good, "::ffff:192.0.2.1", 0, Valid},
		{"10 minutes old", good, "192.0.2.1", 10 * time.Minute, Valid},
		{"exactly half an hour old", good, "192.0.2.1", Renew, Valid},
		{"31 minutes old: renewed", good, "192.0.2.1", 31 * time.Minute, ValidRenew},
		{"exactly an hour old", good, "192.0.2.1", Lifetime, ValidRenew},
		{"an hour and a second old", good, "192.0.2.1", Lifetime + time.Second, Invalid},
		{"4 minutes in the future", good, "192.0.2.1", -4 * time.Minute, Valid},
		{"5 minutes in the future", good, "192.0.2.1", -MaxSkew, Valid},
		{"6 minutes in the future", good, "192.0.2.1", -6 * time.Minute, Invalid},
		{"other client address", good, "192.0.2.2", 0, Invalid},
		{"other client cookie", with(func(b []byte) { b[0] ^= 1 }), "192.0.2.1", 0, Invalid},
		{"version 2", with(func(b []byte) { b[8] = 2 }), "192.0.2.1", 0, Invalid},
		{"reserved byte changed", with(func(b []byte) { b[9] = 1 }), "192.0.2.1", 0, Invalid},
		{"timestamp changed", with(func(b []byte) { b[15] ^= 1 }), "192.0.2.1", 0, Invalid},
		{"hash changed", with(func(b []byte) { b[23] ^= 0x80 }), "192.0.2.1", 0, Invalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var o Option
			st := j.Check(tc.data, netip.MustParseAddr(tc.from), t0.Add(tc.at), &o)
			if st != tc.status {
				t.Fatalf("status %v, want %v", st, tc.status)
			}
		})
	}
}

// TestTimestampWraps: the timestamp is compared in serial number
// arithmetic, so a cookie made just before 2^32 seconds is valid just
// after.
func TestTimestampWraps(t *testing.T) {
	j := NewJar(Secrets{Current: secret(t, "e5e973e5a6b2a43f48e7dc849e37bfcf")})
	client := netip.MustParseAddr("2001:db8::1")
	made := time.Unix(1<<32-100, 0)
	cc := [8]byte{9, 9, 9, 9, 9, 9, 9, 9}
	sc := j.ServerCookie(&cc, client, made)
	var o Option
	if st := j.Check(append(cc[:], sc[:]...), client, made.Add(200*time.Second), &o); st != Valid {
		t.Fatalf("status %v after the wrap, want valid", st)
	}
}

// TestAppendOption: a Valid cookie is echoed as it came; every other status
// with a client cookie gets a fresh one, made now; None and Malformed get
// no option.
func TestAppendOption(t *testing.T) {
	j := NewJar(Secrets{Current: secret(t, "e5e973e5a6b2a43f48e7dc849e37bfcf")})
	client := netip.MustParseAddr("192.0.2.1")
	t0 := time.Unix(1_700_000_000, 0)
	cc := [8]byte{1, 2, 3, 4, 5, 6, 7, 8}
	sc := j.ServerCookie(&cc, client, t0)
	query := append(cc[:], sc[:]...)

	var o Option
	later := t0.Add(10 * time.Minute)
	if st := j.Check(query, client, later, &o); st != Valid {
		t.Fatalf("status %v, want valid", st)
	}
	if got := j.AppendOption(nil, &o, Valid, client, later); !bytes.Equal(got[4:], query) {
		t.Errorf("Valid: reply cookie %x, want the query's %x echoed", got[4:], query)
	}
	for _, st := range []Status{ClientOnly, Invalid, ValidRenew} {
		got := j.AppendOption([]byte{0xaa}, &o, st, client, later)
		if len(got) != 1+4+24 || got[0] != 0xaa {
			t.Fatalf("%v: appended %x, want 28 bytes after the 0xaa", st, got)
		}
		var r Option
		if rs := j.Check(got[5:], client, later, &r); rs != Valid {
			t.Errorf("%v: the reply's own cookie checks %v, want valid", st, rs)
		}
		if ts := binary.BigEndian.Uint32(got[5+12:]); ts != uint32(later.Unix()) {
			t.Errorf("%v: reply cookie's timestamp %d, want now (%d)", st, ts, later.Unix())
		}
	}
	for _, st := range []Status{None, Malformed} {
		if got := j.AppendOption([]byte{0xaa}, &o, st, client, later); len(got) != 1 {
			t.Errorf("%v: appended %x, want nothing", st, got[1:])
		}
		if h := j.ReplyHex(&o, st, client, later); h != "" {
			t.Errorf("%v: ReplyHex %q, want empty", st, h)
		}
	}
}

// TestSetSecrets: a rotation takes effect for the next check, and the
// previous secret's cookies stay valid (renewed) until it is dropped.
func TestSetSecrets(t *testing.T) {
	oldS, newS := secret(t, "e5e973e5a6b2a43f48e7dc849e37bfcf"), secret(t, "445536bcd2513298075a5d379663c962")
	j := NewJar(Secrets{Current: oldS})
	client := netip.MustParseAddr("192.0.2.1")
	now := time.Unix(1_700_000_000, 0)
	cc := [8]byte{1}
	sc := j.ServerCookie(&cc, client, now)
	q := append(cc[:], sc[:]...)
	var o Option
	for _, step := range []struct {
		s    Secrets
		want Status
	}{
		{Secrets{Current: oldS, Previous: &newS}, Valid},      // 1: accept the new one
		{Secrets{Current: newS, Previous: &oldS}, ValidRenew}, // 2: make cookies with it
		{Secrets{Current: newS}, Invalid},                     // 3: drop the old one
	} {
		j.SetSecrets(step.s)
		if st := j.Check(q, client, now, &o); st != step.want {
			t.Errorf("after SetSecrets(%v): %v, want %v", step.s, st, step.want)
		}
	}
}

// TestDecide is the table of Decide and SlipAction, in the words of RFC
// 7873 §5.2.
func TestDecide(t *testing.T) {
	for _, tc := range []struct {
		st       Status
		udp, tcp Action
		slip     Action
	}{
		{None, Answer, Answer, Truncate},         // §5.2.1: as if cookies were unknown
		{Malformed, FormErr, FormErr, Truncate},  // §5.2.2
		{ClientOnly, Answer, Answer, BadCookie},  // §5.2.3 choice 3; slipped: choice 2
		{Invalid, BadCookie, Answer, BadCookie},  // §5.2.4; over TCP §5.2.3's advice
		{Valid, Answer, Answer, BadCookie},       // §5.2.5 (never limited: Verified)
		{ValidRenew, Answer, Answer, BadCookie},  // §5.2.5 with a fresh cookie
		{Status(200), Answer, Answer, BadCookie}, // unknown statuses: answered
	} {
		if got := Decide(tc.st, false); got != tc.udp {
			t.Errorf("Decide(%v, UDP) = %v, want %v", tc.st, got, tc.udp)
		}
		if got := Decide(tc.st, true); got != tc.tcp {
			t.Errorf("Decide(%v, TCP) = %v, want %v", tc.st, got, tc.tcp)
		}
		if got := SlipAction(tc.st); got != tc.slip {
			t.Errorf("SlipAction(%v) = %v, want %v", tc.st, got, tc.slip)
		}
	}
	for st, want := range map[Status]bool{None: false, Malformed: false, ClientOnly: false, Invalid: false, Valid: true, ValidRenew: true} {
		if st.Verified() != want {
			t.Errorf("%v.Verified() = %v, want %v", st, !want, want)
		}
	}
}

// TestFindOption reads COOKIE out of an OPT record's RDATA among other
// options.
func TestFindOption(t *testing.T) {
	nsid := []byte{0, 3, 0, 0}                        // NSID, empty
	ck := []byte{0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8} // COOKIE, client only
	ck2 := []byte{0, 10, 0, 3, 9, 9, 9}               // a second, malformed
	pad := []byte{0, 12, 0, 2, 0, 0}                  // PADDING
	for _, tc := range []struct {
		name  string
		rdata []byte
		want  []byte
		found bool
	}{
		{"no options", nil, nil, false},
		{"only NSID", nsid, nil, false},
		{"after NSID", cat(nsid, ck), ck[4:], true},
		{"first of two", cat(ck, ck2), ck[4:], true},
		{"malformed first", cat(ck2, ck), ck2[4:], true},
		{"before padding", cat(ck, pad), ck[4:], true},
		{"cut short", cat(nsid, ck[:8]), nil, false},
		{"length past the end", []byte{0, 10, 0, 9, 1}, nil, false},
		{"a stray byte after", cat(nsid, []byte{1}), nil, false},
	} {
		data, found := FindOption(tc.rdata)
		if found != tc.found || !bytes.Equal(data, tc.want) {
			t.Errorf("%s: (%x, %v), want (%x, %v)", tc.name, data, found, tc.want, tc.found)
		}
	}
}

func cat(bs ...[]byte) []byte {
	var out []byte
	for _, b := range bs {
		out = append(out, b...)
	}
	return out
}

func TestParseSecret(t *testing.T) {
	for _, tc := range []struct {
		in, err string
	}{
		{"e5e973e5a6b2a43f48e7dc849e37bfcf", ""},
		{" E5E973E5A6B2A43F48E7DC849E37BFCF\n", ""},
		{"e5e973e5a6b2a43f48e7dc849e37bf", "has 30 hex digits, want 32"},
		{"e5e973e5a6b2a43f48e7dc849e37bfcf00", "has 34 hex digits"},
		{"zzz973e5a6b2a43f48e7dc849e37bfcf", "not hexadecimal"},
		{"00000000000000000000000000000000", "all zeros"},
	} {
		_, err := ParseSecret(tc.in)
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("%q: %v", tc.in, err)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%q: error %v, want one with %q", tc.in, err, tc.err)
		}
	}
}

// TestNilJar: with cookies off (a nil Jar) a COOKIE option is ignored and
// the reply carries none.
func TestNilJar(t *testing.T) {
	var j *Jar
	var o Option
	client := netip.MustParseAddr("192.0.2.1")
	if st := j.Check([]byte{1, 2, 3, 4, 5, 6, 7, 8}, client, time.Now(), &o); st != None {
		t.Errorf("nil Jar: status %v, want none", st)
	}
	if got := j.AppendOption(nil, &o, ClientOnly, client, time.Now()); len(got) != 0 {
		t.Errorf("nil Jar appended %x", got)
	}
}
