package enrp_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/poolnsd/poolnsd/enrp"
	"github.com/poolnsd/poolnsd/enrp/enrptest"
	"github.com/poolnsd/poolnsd/enrp/wire"
)

// TestHealNoTransientPull: C is cut off until A and B find it dead, and
// the heal reaches A 900 ms after B (A–C is a slow link). Meanwhile
// B, which hears C back first, homes the zone-file elements by the
// live set A, B, C, and its PRESENCE reaches A, which still homes them
// by A, B: their checksums differ with nothing lost. No registrar may
// pull a table for that (a checksum resync): the heal converges by the
// pushes, within two presence intervals and the slow link's delay. A
// lost update is still pulled at once (TestChecksumRepair).
//
// Cut off right after the cluster formed, before any PRESENCE settled
// the peers' claims, C's wait for A's push counted from an earlier loss
// of A (at the join) and was over at the heal: A's first PRESENCE,
// ahead of its push, had C pull A's table.
func TestHealNoTransientPull(t *testing.T) {
	for _, steady := range []time.Duration{0, 3 * interval} {
		t.Run(fmt.Sprintf("after %v", steady), func(t *testing.T) { healNoTransientPull(t, steady) })
	}
}

func healNoTransientPull(t *testing.T, steady time.Duration) {
	c, a, b, cm := cluster3(t, 11, 60)
	register(t, c, a, 0, 10)
	register(t, c, b, 10, 10)
	register(t, c, cm, 20, 10)
	requireSettled(t, c, interval)
	c.RunFor(steady)
	slow := 900 * time.Millisecond
	c.Net.LinkDelay = map[[2]uint32]time.Duration{{idA, idC}: slow, {idC, idA}: slow}
	c.Net.Partition([]uint32{idA, idB}, []uint32{idC})
	c.RunFor(lastHeard + noResponse + 2*time.Second)
	if h := homes(a); h[idC] != 0 {
		t.Fatalf("C's registrations not taken over while it was cut off: %v", h)
	}
	n := healAndSettle(t, c, slow)
	if ok, why := c.Consistent(); !ok {
		t.Errorf("not consistent 3 intervals after settling: %s", why)
	}
	if n > 0 {
		for _, m := range c.Up() {
			for _, ev := range m.EventsOf(enrp.EventResync) {
				t.Logf("%08x: %v", m.ID, ev)
			}
		}
		t.Errorf("%d tables pulled for checksums that differed only while the live sets did", n)
	}
}

// healAndSettle heals c's partition, waits until every registrar holds
// the same elements (a copy over a link slow by slow may end its lease
// up to 2*slow later) within two intervals and slow, runs three intervals
// more, and returns the tables pulled for checksums meanwhile.
func healAndSettle(t *testing.T, c *enrptest.Cluster, slow time.Duration) int {
	t.Helper()
	before := checksumPulls(c)
	c.Net.Heal()
	healed := c.Elapsed()
	same := func() (bool, string) {
		if ok, why := c.Consistent(); !ok {
			return false, why
		}
		return sameElementsSkew(c, 2*slow)
	}
	if !c.RunUntil(func() bool { ok, _ := same(); return ok }, 2*interval+slow) {
		_, why := same()
		t.Fatalf("not settled %v after the heal: %s", c.Elapsed()-healed, why)
	}
	t.Logf("settled %v after the heal", c.Elapsed()-healed)
	c.RunFor(3 * interval)
	return checksumPulls(c) - before
}

// TestNoPullAfterDeadPeerBack: C's transfer of A's own elements (an
// audit's, for a lost update) goes unanswered and is given up; A is
// then cut off and found dead. When A is back it pushes its own
// elements (as C pushes its own to A): C must not pull A's table on top
// (in the lab that pull took 0.8 s, and the driver held every update
// back while it came).
func TestNoPullAfterDeadPeerBack(t *testing.T) {
	c, a, _, cm := cluster3(t, 12, 30)
	register(t, c, a, 0, 5)
	requireSettled(t, c, interval)
	c.RunFor(2 * interval)
	c.Net.Filter = func(from, to uint32, m *wire.Message) enrptest.Verdict {
		if from == idA && to == idC && (m.Type == wire.TypeHandleUpdate || m.Type == wire.TypeHandleTableResp) {
			return enrptest.Drop
		}
		return enrptest.Deliver
	}
	register(t, c, a, 5, 1) // C misses it, and then A's table
	if !c.RunUntil(func() bool { return len(cm.EventsOf(enrp.EventSyncAbort)) > 0 }, 5*interval) {
		t.Fatal("C's transfer of A's elements was not given up")
	}
	c.Net.Partition([]uint32{idA}, []uint32{idB, idC})
	c.Net.Filter = nil
	c.RunFor(lastHeard + noResponse + time.Second)
	resyncs := len(cm.EventsOf(enrp.EventResync))
	c.Net.Heal()
	requireSettled(t, c, 2*interval)
	c.RunFor(interval)
	for _, ev := range cm.EventsOf(enrp.EventResync)[resyncs:] {
		t.Errorf("C pulled a table after A came back: %v", ev)
	}
}

// TestSplitHealNoTransientPull: a 2|3 split of five heals, and E, far
// from A and B, hears them both 900 ms after C and D do: meanwhile E's
// claims are made by a live set two registrars short of C's and D's,
// with nothing lost. No table may be pulled for that.
func TestSplitHealNoTransientPull(t *testing.T) {
	const idD, idE uint32 = 0xd, 0xe
	c := newCluster(t, 13)
	zones := enrptest.Zones(t, 80)
	a := add(t, c, idA, zones)
	b := add(t, c, idB, zones, idA)
	cm := add(t, c, idC, zones, idA, idB)
	d := add(t, c, idD, zones, idA, idB, idC)
	e := add(t, c, idE, zones, idA, idB, idC, idD)
	requireSettled(t, c, 3*interval)
	for i, m := range []*enrptest.Member{a, b, cm, d, e} {
		register(t, c, m, 10*i, 5)
	}
	requireSettled(t, c, interval)
	c.RunFor(2 * interval)
	slow := 900 * time.Millisecond
	c.Net.LinkDelay = map[[2]uint32]time.Duration{{idA, idE}: slow, {idE, idA}: slow, {idB, idE}: slow, {idE, idB}: slow}
	c.Net.Partition([]uint32{idA, idB}, []uint32{idC, idD, idE})
	c.RunFor(lastHeard + noResponse + 2*time.Second)
	if n := healAndSettle(t, c, slow); n > 0 {
		t.Errorf("%d tables pulled for checksums that differed only while the live sets did", n)
	}
}

// checksumPulls counts the running members' transfers started for a
// checksum that differed.
func checksumPulls(c *enrptest.Cluster) int {
	n := 0
	for _, m := range c.Up() {
		for _, ev := range m.EventsOf(enrp.EventResync) {
			if strings.HasPrefix(ev.Detail, "checksum") {
				n++
			}
		}
	}
	return n
}
