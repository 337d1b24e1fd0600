package wire

import (
	"net/netip"
	"testing"
	"time"

	"github.com/poolnsd/poolnsd/handlespace"
)

// TestLeaseEndTravels: a registration's lease end survives ToPE, the wire
// and FromPE as the same absolute time (to the millisecond) whenever the
// receiver processes it, and after any number of hops; from an older
// sender (no ParamXLeaseEnd), or from one whose clock disagrees by more
// than clockTolerance, it is counted from the registration life.
func TestLeaseEndTravels(t *testing.T) {
	sent := time.Date(2026, 12, 7, 6, 0, 0, 0, time.UTC)
	end := sent.Add(30*time.Second + 123456789*time.Nanosecond)
	e := &handlespace.Element{ID: 7, Label: handlespace.LabelOf("pe7"), Home: 1, Port: 80, Addrs: handlespace.AddrsOf(netip.MustParseAddr("192.0.2.7")),
		Weight: 1, Health: handlespace.HealthUp, Expires: handlespace.ExpiryOf(end), Lease: 30 * time.Second}
	hop := func(e *handlespace.Element, at, then time.Time) *handlespace.Element {
		t.Helper()
		pe := ToPE(e, "rr", 0, at)
		b, err := (&Message{Type: TypeHandleUpdate, Sender: 1, Receiver: 2, Action: AddPE,
			Entries: []Entry{{Handle: []byte("web.pool.example."), Elements: []PE{pe}}}}).Encode()
		if err != nil {
			t.Fatal(err)
		}
		m, err := Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		got, _, _, err := FromPE(&m.Entries[0].Elements[0], then)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	want := end.Truncate(time.Millisecond)
	// Processed 1.27 s late, then sent back and processed 0.6 s late.
	there := hop(e, sent, sent.Add(1270*time.Millisecond))
	if !there.Expires.Time().Equal(want) {
		t.Errorf("lease end after one late hop %v, want %v", there.Expires.Time(), want)
	}
	back := hop(there, sent.Add(2*time.Second), sent.Add(2600*time.Millisecond))
	if !back.Expires.Time().Equal(want) {
		t.Errorf("lease end after two late hops %v, want %v", back.Expires.Time(), want)
	}

	// An older sender: the registration life, from when it is processed.
	pe := ToPE(e, "rr", 0, sent)
	pe.X.LeaseEnd = 0
	now := sent.Add(time.Second)
	if got := LeaseEnd(&pe, now); !got.Equal(now.Add(30123 * time.Millisecond)) {
		t.Errorf("an older sender's lease end %v, want %v", got, now.Add(30123*time.Millisecond))
	}
	// A clock too far off, either way: the registration life too.
	for _, off := range []time.Duration{clockTolerance + time.Second, -clockTolerance - time.Second} {
		pe := ToPE(e, "rr", 0, sent)
		pe.X.LeaseEnd = end.Add(off).UnixMilli()
		if got := LeaseEnd(&pe, sent); !got.Equal(sent.Add(30123 * time.Millisecond)) {
			t.Errorf("lease end %v off: %v, want the registration life's %v", off, got, sent.Add(30123*time.Millisecond))
		}
	}
	// A lease longer than a registration life can say (about 24.8 days,
	// clamped): the absolute lease end, however far beyond.
	long := *e
	long.Expires = handlespace.ExpiryOf(sent.Add(40 * 24 * time.Hour))
	if got := LeaseEnd(ptr(ToPE(&long, "rr", 0, sent)), sent.Add(time.Second)); !got.Equal(long.Expires.Time()) {
		t.Errorf("a 40-day lease ends %v, want %v", got, long.Expires.Time())
	}
	// No lease: none, whatever the extension says.
	pe = ToPE(e, "rr", 0, sent)
	pe.RegLife = NoLease
	if got := LeaseEnd(&pe, sent); !got.IsZero() {
		t.Errorf("no lease: lease end %v", got)
	}
	s := *e
	s.Expires = handlespace.ExpiryOf(time.Time{})
	if x := ToPE(&s, "rr", 0, sent).X; x.LeaseEnd != 0 {
		t.Errorf("an element without a lease sends lease end %d", x.LeaseEnd)
	}
}

func ptr[T any](v T) *T { return &v }
