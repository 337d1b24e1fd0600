package dnsupdate

import (
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/poolnsd/poolnsd/dnsfront/tsigkey"
	"github.com/poolnsd/poolnsd/internal/updatetest"
)

// msgReply is the reply updateReply wrote before it packed by hand (but
// for the zone section of a request with none or several: EchoZone): a
// dns.Msg, signed as the server's writer signed it (SignReply, then
// miekg/dns's TsigGenerateWithProvider with the keyring) at time now.
func msgReply(r *dns.Msg, tsig *dns.TSIG, keys *tsigkey.Keyring, rcode int, udpSize uint16, why string, ul *dns.EDNS0_UL, now time.Time) ([]byte, error) {
	m := new(dns.Msg)
	m.SetRcode(r, rcode)
	if len(r.Question) != 1 {
		m.Question = nil // EchoZone: a zone section of one record, or none
	}
	if opt := r.IsEdns0(); opt != nil {
		m.SetEdns0(udpSize, false)
		m.Rcode = rcode
		o := m.IsEdns0()
		if ul != nil {
			o.Option = append(o.Option, ul)
		}
		if why != "" && rcode != dns.RcodeSuccess {
			info := dns.ExtendedErrorCodeOther
			if rcode == dns.RcodeRefused {
				info = dns.ExtendedErrorCodeProhibited
			}
			if len(why) > 200 {
				why = why[:200]
			}
			o.Option = append(o.Option, &dns.EDNS0_EDE{InfoCode: info, ExtraText: why})
		}
	}
	if tsig == nil {
		return m.Pack()
	}
	tsigkey.SignReply(m, tsig)
	m.IsTsig().TimeSigned = uint64(now.Unix())
	b, _, err := dns.TsigGenerateWithProvider(m, keys, tsig.MAC, false)
	return b, err
}

// FuzzReply: appendReply, signed with AppendSigned, writes the bytes that
// msgReply (the dns.Msg way it replaces) writes, or fails where it fails,
// for any update that unpacks, rcode, reason, lease option and request
// MAC (of the key all-key., or none: unsigned; one of 1 to 9 bytes is
// unsigned too: such a request is refused BADTRUNC). Seeds: the replies of
// TestReplies' kinds, and below.
func FuzzReply(f *testing.F) {
	keys, err := tsigkey.New(updatetest.Keys())
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range updateSeeds(f) {
		for _, rcode := range []int{dns.RcodeSuccess, dns.RcodeRefused, dns.RcodeNotZone, dns.RcodeBadVers, dns.RcodeServerFailure} {
			f.Add(s.b, uint16(rcode), "why it failed", uint32(7200), uint32(0), true, []byte(strings.Repeat("m", 32)))
			f.Add(s.b, uint16(rcode), "", uint32(0), uint32(0), false, []byte(nil))
		}
	}
	withOpt := updatetest.Msg(f, updatetest.PE("r1", 80, "192.0.2.1", 30)...)
	withOpt.Question[0].Name = `PoOl.TeSt.`
	withOpt.SetEdns0(4096, true)
	b, err := withOpt.Pack()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b, uint16(dns.RcodeRefused), strings.Repeat("long reason ", 30), uint32(60), uint32(600), true, []byte("sixteen bytes!!!"))
	f.Add(b, uint16(dns.RcodeBadVers), "", uint32(60), uint32(0), false, []byte("0123456789"))
	f.Add(b, uint16(0xFFF), "x", uint32(1), uint32(1), true, []byte(strings.Repeat("x", 64)))
	f.Add(b, uint16(0x1000), "x", uint32(1), uint32(1), false, []byte(nil))
	noQ := new(dns.Msg)
	noQ.Opcode = dns.OpcodeUpdate
	if b, err = noQ.Pack(); err != nil {
		f.Fatal(err)
	}
	f.Add(b, uint16(dns.RcodeFormatError), "zone section has 0 records, want 1", uint32(0), uint32(0), false, []byte("0123456789abcdef"))
	now := time.Unix(1780000000, 0)
	f.Fuzz(func(t *testing.T, data []byte, rcode uint16, why string, lease, keyLease uint32, hasUL bool, mac []byte) {
		r := new(dns.Msg)
		if err := r.Unpack(data); err != nil {
			return
		}
		r.Opcode, r.Response = dns.OpcodeUpdate, false
		var ul *dns.EDNS0_UL
		if hasUL {
			ul = &dns.EDNS0_UL{Code: dns.EDNS0UL, Lease: lease, KeyLease: keyLease}
		}
		var tsig *dns.TSIG
		// A reply is signed when the request verified: its MAC has 10
		// bytes at least (tsigkey's BADTRUNC), 64 at most (BADSIG).
		// Shorter than 2, miekg/dns's reference cannot pack it.
		if len(mac) >= 10 && len(mac) <= 64 {
			tsig = &dns.TSIG{Hdr: dns.RR_Header{Name: updatetest.KeyAll, Rrtype: dns.TypeTSIG, Class: dns.ClassANY},
				Algorithm: dns.HmacSHA256, TimeSigned: uint64(now.Unix()), Fudge: 300, MACSize: uint16(len(mac)),
				MAC: hex.EncodeToString(mac), OrigId: r.Id}
		}
		want, werr := msgReply(r, tsig, keys, int(rcode), 1232, why, ul, now)
		got, err := appendReply(nil, FromMsg(r), int(rcode), 1232, why, ul)
		if err == nil && tsig != nil {
			got, err = keys.AppendSigned(got, tsig, now)
		}
		if (err != nil) != (werr != nil) {
			t.Fatalf("rcode %d: error %v, dns.Msg's %v\nrequest %v", rcode, err, werr, r)
		}
		if err == nil && string(got) != string(want) {
			t.Fatalf("rcode %d, why %q, lease %v, signed %v:\n got %x\nwant %x\nrequest %v", rcode, why, ul, tsig != nil, got, want, r)
		}
	})
}
