package cookie

import (
	"bytes"
	"encoding/hex"
	"net/netip"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// FuzzCheck feeds any bytes as a COOKIE option's data, from an IPv4 or an
// IPv6 client: Check must not panic, its status must follow the option's
// length (RFC 7873 §5.2.2), and the reply's option must be 24 bytes of
// data whose server cookie checks Valid.
func FuzzCheck(f *testing.F) {
	j := NewJar(Secrets{Current: Secret{0xe5, 0xe9, 0x73, 0xe5, 0xa6, 0xb2, 0xa4, 0x3f, 0x48, 0xe7, 0xdc, 0x84, 0x9e, 0x37, 0xbf, 0xcf}})
	now := time.Unix(1559734385, 0)
	// Seeds: RFC 9018 Appendix A's cookies, and the malformed lengths.
	f.Add([]byte{0x24, 0x64, 0xc4, 0xab, 0xcf, 0x10, 0xc9, 0x57}, false)
	f.Add(unhex(f, "2464c4abcf10c957010000005cf79f111f8130c3eee29480"), false)
	f.Add(unhex(f, "fc93fc62807ddb8601abcdef5cf78f71a314227b6679ebf5"), false)
	f.Add(unhex(f, "22681ab97d52c298010000005cf7c57926556bd0934c72f8"), true)
	f.Add([]byte{}, false)
	f.Add(make([]byte, 7), false)
	f.Add(make([]byte, 15), true)
	f.Add(make([]byte, 41), false)
	f.Fuzz(func(t *testing.T, data []byte, v6 bool) {
		client := netip.MustParseAddr("198.51.100.100")
		if v6 {
			client = netip.MustParseAddr("2001:db8:220:1:59de:d0f4:8769:82b8")
		}
		var o Option
		st := j.Check(data, client, now, &o)
		n := len(data)
		wellFormed := n == 8 || (n >= 16 && n <= 40)
		if wellFormed != st.HasClient() {
			t.Fatalf("%d bytes: status %v", n, st)
		}
		if !wellFormed {
			return
		}
		if !bytes.Equal(o.Client[:], data[:8]) || !bytes.Equal(o.Server(), data[8:]) {
			t.Fatalf("parsed %x | %x from %x", o.Client, o.Server(), data)
		}
		reply := j.AppendOption(nil, &o, st, client, now)
		if len(reply) != 28 || reply[1] != OptionCode || reply[3] != 24 || !bytes.Equal(reply[4:12], data[:8]) {
			t.Fatalf("reply option %x", reply)
		}
		var r Option
		if rs := j.Check(reply[4:], client, now, &r); rs != Valid {
			t.Fatalf("reply's cookie %x checks %v", reply[4:], rs)
		}
	})
}

// FuzzFindOption walks any OPT RDATA: no panic, and where miekg/dns reads
// the RDATA as a list of options, FindOption finds the data of its first
// COOKIE option (and finds none where it has none).
func FuzzFindOption(f *testing.F) {
	f.Add([]byte{0, 3, 0, 0, 0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8})
	f.Add([]byte{0, 10, 0, 9, 1})
	f.Add([]byte{0, 10})
	f.Add([]byte{0, 10, 0, 1, 1})
	f.Fuzz(func(t *testing.T, rdata []byte) {
		data, found := FindOption(rdata)
		if len(rdata) > 0xFFFF {
			return
		}
		// The RDATA in an OPT record of a message, for miekg/dns.
		msg := []byte{0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 41, 4, 0xd0, 0, 0, 0, 0, byte(len(rdata) >> 8), byte(len(rdata))}
		m := new(dns.Msg)
		if err := m.Unpack(append(msg, rdata...)); err != nil {
			return // not a list of options miekg/dns reads
		}
		var want []byte
		wantFound := false
		for _, o := range m.IsEdns0().Option {
			if c, ok := o.(*dns.EDNS0_COOKIE); ok {
				want, _ = hex.DecodeString(c.Cookie)
				wantFound = true
				break
			}
		}
		if found != wantFound || !bytes.Equal(data, want) {
			t.Fatalf("RDATA %x: found %x %v, miekg/dns reads %x %v", rdata, data, found, want, wantFound)
		}
	})
}
