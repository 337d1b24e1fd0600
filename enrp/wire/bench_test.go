package wire

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/poolnsd/poolnsd/handlespace"
)

// pageSize is the peering engine's page of a table (enrp.DefaultPageSize).
const pageSize = 128

func benchElement(i int) *handlespace.Element {
	return &handlespace.Element{ID: uint32(i), Label: handlespace.LabelOf(fmt.Sprintf("pe%d", i)), Addrs: handlespace.AddrsOf(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)})),
		Port: 8080, Weight: 1, Home: 1, Health: handlespace.HealthUp, Expires: handlespace.ExpiryOf(time.Now().Add(time.Hour))}
}

func BenchmarkEncodeUpdate(b *testing.B) {
	m := &Message{Type: TypeHandleUpdate, Sender: 1, Receiver: 2,
		Entries: []Entry{{Handle: []byte("web.pool.example."), Elements: []PE{ToPE(benchElement(1), "rr", 0, time.Now())}}}}
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = m.AppendEncode(buf[:0])
	}
	b.ReportMetric(float64(len(buf)), "bytes/msg")
}

func BenchmarkDecodeUpdate(b *testing.B) {
	m := &Message{Type: TypeHandleUpdate, Sender: 1, Receiver: 2,
		Entries: []Entry{{Handle: []byte("web.pool.example."), Elements: []PE{ToPE(benchElement(1), "rr", 0, time.Now())}}}}
	raw, _ := m.Encode()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(raw); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTablePage: one HANDLE_TABLE_RESPONSE page of 128 elements,
// encoded and decoded.
func BenchmarkTablePage(b *testing.B) {
	m := &Message{Type: TypeHandleTableResp, Flags: FlagMoreToSend, Sender: 1, Receiver: 2, Entries: []Entry{{Handle: []byte("web.pool.example.")}}}
	now := time.Now()
	for i := 0; i < pageSize; i++ {
		m.Entries[0].Elements = append(m.Entries[0].Elements, ToPE(benchElement(i), "rr", 0, now))
	}
	raw, _ := m.Encode()
	b.ReportAllocs()
	for b.Loop() {
		raw, _ = m.AppendEncode(raw[:0])
		if _, err := Decode(raw); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(raw)), "bytes/page")
}
