package enrp_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/poolnsd/poolnsd/enrp"
)

// TestHealLeaseYield: A's three registrations, taken over by B and C while
// A was cut off, must survive a heal where A's push reaches B and C 1.5 s
// late and theirs reach A 0.6 s late. When the registrars counted lease
// ends from when a copy arrived, B and C took A's copy for one of a later
// registration (its lease end later by more than the skew) and gave it to
// A, while A found the two within the skew, let the generations decide and
// gave it to them: each took the other for the home, and the audits
// deleted every copy (found by a starved registrar in the lab). Also with
// the delays the other way round, and with further seeds.
func TestHealLeaseYield(t *testing.T) {
	for _, tc := range []struct {
		seed        uint64
		there, back time.Duration
	}{
		{47, 1500 * time.Millisecond, 600 * time.Millisecond},
		{48, 1500 * time.Millisecond, 600 * time.Millisecond},
		{49, 600 * time.Millisecond, 1500 * time.Millisecond},
		{50, 2500 * time.Millisecond, 100 * time.Millisecond},
		{51, 100 * time.Millisecond, 2500 * time.Millisecond},
	} {
		t.Run(fmt.Sprintf("%d-%v-%v", tc.seed, tc.there, tc.back), func(t *testing.T) {
			healLeaseYield(t, tc.seed, tc.there, tc.back)
		})
	}
}

// healLeaseYield runs TestHealLeaseYield's scenario with A's messages to B
// and C held up there long at the heal, theirs to A back.
func healLeaseYield(t *testing.T, seed uint64, there, back time.Duration) {
	c, a, b, cm := cluster3(t, seed, 10)
	c.Redial = redial
	c.RunFor(2 * interval)
	register(t, c, a, 0, 3)
	requireSettled(t, c, interval)
	c.Net.Partition([]uint32{idA}, []uint32{idB, idC})
	if !c.RunUntil(func() bool { return homes(b)[idA] == 0 && homes(cm)[idA] == 0 }, 20*time.Second) {
		t.Fatal("no takeover")
	}
	c.RunFor(2 * interval)
	for _, p := range [][2]uint32{{idA, idB}, {idA, idC}} {
		c.Net.LinkDelay[p] = there
	}
	for _, p := range [][2]uint32{{idB, idA}, {idC, idA}} {
		c.Net.LinkDelay[p] = back
	}
	c.Net.Heal()
	c.RunFor(3 * time.Second)
	c.Net.LinkDelay = map[[2]uint32]time.Duration{}
	c.RunFor(10 * time.Second)
	for _, m := range c.Up() {
		n := 0
		for _, e := range m.Elements() {
			if !e.Static {
				n++
			}
		}
		if n != 3 {
			t.Errorf("%08x has %d of the 3 registrations, homes %v", m.ID, n, homes(m))
			for _, ev := range m.EventsOf(enrp.EventOwnershipLost) {
				t.Logf("%08x %v", m.ID, ev)
			}
		}
	}
	requireSettled(t, c, 2*interval)
}
