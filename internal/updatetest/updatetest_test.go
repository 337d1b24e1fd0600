package updatetest

import (
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TestSignUsesTheKeysAlgorithm: Sign signs with the algorithm Keys gives
// each key, at T0, and an unsigned message stays so.
func TestSignUsesTheKeysAlgorithm(t *testing.T) {
	for _, k := range Keys() {
		m := Sign(t, Msg(t, PE("x", 80, "192.0.2.1", 30)...), k.Name)
		ts := m.IsTsig()
		if ts == nil || ts.Hdr.Name != k.Name || ts.Algorithm != k.Algorithm || ts.TimeSigned != uint64(T0.Unix()) {
			t.Errorf("%s: TSIG %v, want algorithm %s at %d", k.Name, ts, k.Algorithm, T0.Unix())
		}
	}
	if m := Sign(t, Msg(t, PE("x", 80, "192.0.2.1", 30)...), ""); m.IsTsig() != nil || m.Opcode != dns.OpcodeUpdate {
		t.Errorf("unsigned: %v", m)
	}
}

// TestFixtureClock: the clock starts at T0 and moves only by Advance.
func TestFixtureClock(t *testing.T) {
	f := &Fixture{now: T0}
	if !f.Now().Equal(T0) || !f.Advance(time.Second).Equal(T0.Add(time.Second)) || !f.Now().Equal(T0.Add(time.Second)) {
		t.Errorf("clock at %v after a second, want %v", f.Now(), T0.Add(time.Second))
	}
}
