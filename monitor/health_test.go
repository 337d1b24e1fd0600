package monitor_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/poolnsd/poolnsd/dnsfront"
	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/monitor"
	"github.com/poolnsd/poolnsd/probe"
	"github.com/poolnsd/poolnsd/probe/probetest"
	"github.com/poolnsd/poolnsd/store"
	"github.com/poolnsd/poolnsd/zones/zonestest"
)

const (
	hUnknown = handlespace.HealthUnknown
	hUp      = handlespace.HealthUp
	hDown    = handlespace.HealthDown
)

func TestStartHealth(t *testing.T) {
	tests := []struct {
		mode        monitor.StartMode
		stored      handlespace.Health
		has         bool
		want        handlespace.Health
		provisional bool
	}{
		{monitor.StartLast, hUp, true, hUp, true},
		{monitor.StartLast, hDown, true, hDown, true},
		{monitor.StartLast, hUnknown, false, hUnknown, false}, // nothing stored
		{monitor.StartLast, hUnknown, true, hUnknown, false},  // never stored, but: unknown is no knowledge
		{monitor.StartUnknown, hUp, true, hUnknown, false},
		{monitor.StartUnknown, hDown, true, hUnknown, false},
		{monitor.StartUnknown, hUnknown, false, hUnknown, false},
		{monitor.StartUp, hDown, true, hUp, true},
		{monitor.StartUp, hUnknown, false, hUp, true},
	}
	for _, tt := range tests {
		h, p := monitor.StartHealth(tt.mode, tt.stored, tt.has)
		if h != tt.want || p != tt.provisional {
			t.Errorf("StartHealth(%v, %v, %v) = %v, %v; want %v, %v", tt.mode, tt.stored, tt.has, h, p, tt.want, tt.provisional)
		}
	}
	for _, s := range []string{"last", "unknown", "up"} {
		m, err := monitor.ParseStartMode(s)
		if err != nil || m.String() != s {
			t.Errorf("ParseStartMode(%q) = %v, %v", s, m, err)
		}
	}
	if _, err := monitor.ParseStartMode("down"); err == nil || !strings.Contains(err.Error(), "want last, unknown or up") {
		t.Errorf("ParseStartMode(down): %v", err)
	}
}

// restoredFixture is newFixture with the healths of stored (by label in
// pool web or near) given back under mode before the monitor starts.
func restoredFixture(t *testing.T, mode monitor.StartMode, stored map[string]handlespace.Health, cfg monitor.Config) *fixture {
	t.Helper()
	clock := probetest.NewFakeClock(time.Time{})
	hs := handlespace.New(handlespace.Options{RegistrarID: self, Probing: true, Now: clock.Now})
	zonestest.Apply(t, hs, testZone)
	byKey := map[string]handlespace.Health{}
	for name, h := range stored {
		pool, label, _ := strings.Cut(name, "/")
		byKey[monitor.Key(pool, hs.View().Pool(pool).Label(label).ID)] = h
	}
	given, _, _, err := monitor.RestoreHealth(hs, mode, byKey)
	if err != nil {
		t.Fatal(err)
	}
	fc := probetest.NewFakeChecker(clock)
	cfg.Self, cfg.Provisional = self, given
	cfg.Probe = probe.Config{Clock: clock, Workers: 8, Rand: func() float64 { return 0.5 }, Slack: -1,
		Checkers: map[string]probe.Checker{"http": fc, "tcp": fc}}
	if cfg.Logger == nil {
		cfg.Logger = discard()
	}
	f := &fixture{t: t, hs: hs, clock: clock, fc: fc}
	f.dns = dnsfront.NewHandler(hs, dnsfront.Config{Logger: discard()})
	// Before the monitor exists: what a restarted registrar answers
	// before its first probe.
	f.m = monitor.New(hs, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.m.Run(ctx) }()
	f.stop = func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}
	t.Cleanup(f.stop)
	synctest.Wait()
	return f
}

// TestRestoreHealth: with probe.start last, elements answer with their
// stored health before any probe (web1 and web3 up, web2 down; n1 without
// a stored health unknown). The restored health lasts only until probes
// decide, as for an unknown element: a restored up that fails stays up
// for one failure (fall 2) and is down at the confirming probe; a
// restored down is up at its first pass, without waiting for rise (2).
func TestRestoreHealth(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var logs bytes.Buffer
		f := restoredFixture(t, monitor.StartLast, map[string]handlespace.Health{
			web + "/web1": hUp, web + "/web2": hDown, web + "/web3": hUp, near + "/n2": hUp,
		}, monitor.Config{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
		// No time has passed: nothing is probed yet.
		if f.fc.Total() != 0 {
			t.Fatalf("%d probes before the clock moved", f.fc.Total())
		}
		if got, want := f.answerSet(web), []string{"10.0.0.1", "10.0.0.3"}; !slices.Equal(got, want) {
			t.Fatalf("web before any probe: %v, want the stored up ones %v", got, want)
		}
		if got := f.answer(near); !slices.Equal(got, []string{"10.0.1.2"}) {
			t.Fatalf("near before any probe: %v, want n2 (stored up; n1 has nothing stored)", got)
		}
		if h := f.elem(near, "n1").Health; h != hUnknown {
			t.Errorf("n1 (nothing stored) is %v", h)
		}
		k1, k2 := f.key(web, "web1"), f.key(web, "web2")
		f.fc.Script(k1, probetest.Fail("connect: connection refused"))
		// The first probes (spread over 100 µs each): web1 fails once and
		// stays, web2 passes once and is up.
		for f.fc.Calls(k1) == 0 || f.fc.Calls(k2) == 0 {
			f.advance(100 * time.Microsecond)
		}
		if f.fc.Calls(k1) != 1 {
			t.Fatalf("web1 probed %d times", f.fc.Calls(k1))
		}
		if got := f.answerSet(web); !slices.Equal(got, allWeb) {
			t.Errorf("after web1's first failure and web2's first pass: %v, want all", got)
		}
		for f.fc.Calls(k1) == 1 {
			f.advance(time.Millisecond)
		}
		if got, want := f.answerSet(web), []string{"10.0.0.2", "10.0.0.3"}; !slices.Equal(got, want) {
			t.Errorf("after web1's confirming failure: %v, want %v", got, want)
		}
		if times := f.fc.Times(k1); times[1].Sub(times[0]) != probe.ConfirmMin {
			t.Errorf("web1's second probe %v after its first, want ConfirmDelay %v", times[1].Sub(times[0]), probe.ConfirmMin)
		}
		// "first probes done" waits for probes to decide every element.
		f.advance(time.Second)
		if !strings.Contains(logs.String(), "first probes done") {
			t.Errorf("no first-probes line after a second:\n%s", logs.String())
		}
	})
}

// TestRestoreHealthModes: probe.start up serves every probed element
// before its first probe, unknown none (today's behaviour), whatever is
// stored; elements without probes are served in all.
func TestRestoreHealthModes(t *testing.T) {
	stored := map[string]handlespace.Health{web + "/web1": hDown, web + "/web2": hUp}
	for _, tt := range []struct {
		mode monitor.StartMode
		web  []string
		near int
	}{
		{monitor.StartUp, allWeb, 1},
		{monitor.StartUnknown, nil, 0},
		{monitor.StartLast, []string{"10.0.0.2"}, 0},
	} {
		t.Run(tt.mode.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := restoredFixture(t, tt.mode, stored, monitor.Config{})
				if got := f.answerSet(web); !slices.Equal(got, tt.web) {
					t.Errorf("web before any probe: %v, want %v", got, tt.web)
				}
				if got := f.answer(near); len(got) != tt.near {
					t.Errorf("near before any probe: %v", got)
				}
				if got := f.answerSet(plain); len(got) != 2 {
					t.Errorf("plain (no probes): %v", got)
				}
				f.advance(time.Millisecond)
				if got := f.answerSet(web); !slices.Equal(got, allWeb) {
					t.Errorf("web after the first probes pass: %v", got)
				}
			})
		})
	}
}

// memStore is a HealthStore in memory that counts its transactions.
type memStore struct {
	m   map[string]handlespace.Health
	txs int
	n   int // writes
}

func (s *memStore) PutHealth(ws []store.HealthWrite, at time.Time) error {
	if len(ws) == 0 {
		return nil
	}
	s.txs++
	s.n += len(ws)
	for _, w := range ws {
		k := monitor.Key(w.Pool, w.ID)
		if w.Health == hUnknown {
			delete(s.m, k)
		} else {
			s.m[k] = w.Health
		}
	}
	return nil
}

// viewHealths is what a Keeper should have stored: the up or down health
// of every probed element.
func viewHealths(hs *handlespace.Handlespace) map[string]handlespace.Health {
	out := map[string]handlespace.Health{}
	for _, z := range hs.View().Zones() {
		for _, h := range z.PoolHandles() {
			pv := z.Pool(h)
			for e := range pv.Range() {
				if pv.ProbeSpec(e).Probed() && e.Health != hUnknown {
					out[monitor.Key(pv.Name, e.ID)] = e.Health
				}
			}
		}
	}
	return out
}

// bboltStore is the real store, counting the elements it was given and
// the transactions it committed (one per PutHealth that writes).
type bboltStore struct {
	*store.Store
	n, txs int
}

func (s *bboltStore) PutHealth(ws []store.HealthWrite, at time.Time) error {
	s.n += len(ws)
	err := s.Store.PutHealth(ws, at)
	if err == nil && len(ws) > 0 {
		s.txs++
	}
	return err
}

// stored reads back what the store has, by Key.
func (s *bboltStore) stored(t *testing.T) map[string]handlespace.Health {
	t.Helper()
	out := map[string]handlespace.Health{}
	if _, err := s.Healths(func(pool string, id uint32, h handlespace.Health) { out[monitor.Key(pool, id)] = h }); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestKeeperBatches: a Keeper writing every second to the bbolt store
// keeps what the view says of the probed elements, in at most one
// transaction per second however many probe results and health changes,
// none while nothing changes; an element that leaves the view leaves the
// store; the write at the end of Run keeps the latest.
func TestKeeperBatches(t *testing.T) {
	dir := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, testZone, monitor.Config{})
		s, err := store.Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		st := &bboltStore{Store: s}
		kp := monitor.NewKeeper(f.hs, st, monitor.KeeperConfig{Every: time.Second, Clock: f.clock, Logger: discard()})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { kp.Run(ctx); close(done) }()
		synctest.Wait()
		// The web elements flap: down and up again every few probes
		// (interval 1 s, rise and fall 2), for 20 s.
		var script []probe.Result
		for range 10 {
			script = append(script, probetest.Fail("x"), probetest.Fail("x"), probetest.Pass(), probetest.Pass())
		}
		for _, l := range []string{"web1", "web2", "web3"} {
			f.fc.Script(f.key(web, l), script...)
		}
		f.advance(20 * time.Second)
		probes, txs := f.m.Stats().Probes, st.txs
		if txs > 20 || st.n < 2*txs {
			t.Errorf("%d health writes in %d transactions in 20 s, want at most one transaction per second, batching several", st.n, txs)
		}
		if got := st.stored(t); !maps.Equal(got, viewHealths(f.hs)) {
			t.Errorf("stored %v, view %v", got, viewHealths(f.hs))
		}
		t.Logf("%d probe results, %d health writes in %d bbolt transactions", probes, st.n, txs)
		if probes < 100 {
			t.Errorf("only %d probes in 20 s", probes)
		}
		// Nothing changes for 10 s: no transaction.
		for _, l := range []string{"web1", "web2", "web3"} {
			f.fc.Script(f.key(web, l))
		}
		f.advance(3 * time.Second) // back up (rise 2), written
		txs = st.txs
		f.advance(10 * time.Second)
		if n := st.txs - txs; n != 0 {
			t.Errorf("%d transactions while nothing changed", n)
		}
		// web3 leaves the zone; web1 goes down just before the end.
		zone := strings.Replace(testZone, "web PE 10.0.0.3:80 name=web3\n", "", 1)
		zonestest.Apply(t, f.hs, zone)
		f.fc.Script(f.key(web, "web1"), probetest.Fail("x"))
		f.advance(1500 * time.Millisecond)
		if err := f.hs.Update(web, f.elem(web, "web1").ID, func(e *handlespace.Element) { e.Health = hDown }); err != nil {
			t.Fatal(err)
		}
		cancel()
		<-done
		want := viewHealths(f.hs)
		if got := st.stored(t); !maps.Equal(got, want) {
			t.Errorf("stored after the end %v, want %v", got, want)
		}
		if len(want) != 4 || want[f.key(web, "web1")] != hDown {
			t.Errorf("view %v: want web1 down, web2 up, n1, n2", want)
		}
	})
}

// TestKeeperBaseline: given what the store holds, the first write leaves
// out what is there already, and removes what the view does not have.
func TestKeeperBaseline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, testZone, monitor.Config{})
		f.advance(time.Millisecond) // all up
		now := viewHealths(f.hs)
		k2 := f.key(web, "web2")
		stored := maps.Clone(now)
		stored[k2] = hDown // stale
		delete(stored, f.key(near, "n1"))
		st := &memStore{m: maps.Clone(stored)}
		kp := monitor.NewKeeper(f.hs, st, monitor.KeeperConfig{Stored: stored, Clock: f.clock})
		if n := kp.Flush(); n != 2 {
			t.Errorf("first write of %d elements, want 2 (web2 changed, n1 missing)", n)
		}
		if !maps.Equal(st.m, now) {
			t.Errorf("stored %v, want %v", st.m, now)
		}
		if n := kp.Flush(); n != 0 || st.txs != 1 {
			t.Errorf("a second write with nothing changed: %d elements, %d transactions", n, st.txs)
		}
	})
}

// TestRestoredHealthYieldsToNews: a restored (provisional) health does not
// overwrite fresher news in the view: web1, restored up, is set down by
// someone else (its previous home's update) before its first probe; a
// first failing probe leaves it down (it would have said up), and the
// probe that passes later makes it up.
func TestRestoredHealthYieldsToNews(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := restoredFixture(t, monitor.StartLast, map[string]handlespace.Health{web + "/web1": hUp}, monitor.Config{})
		id := f.elem(web, "web1").ID
		if err := f.hs.Update(web, id, func(e *handlespace.Element) { e.Health = hDown }); err != nil {
			t.Fatal(err)
		}
		k := f.key(web, "web1")
		f.fc.Script(k, probetest.Fail("x"), probetest.Pass())
		for f.fc.Calls(k) == 0 {
			f.advance(100 * time.Microsecond)
		}
		if h := f.elem(web, "web1").Health; h != hDown {
			t.Errorf("after a failing first probe: %v, want down (the news, not the restored up)", h)
		}
		for f.fc.Calls(k) < 2 {
			f.advance(time.Millisecond)
		}
		if h := f.elem(web, "web1").Health; h != hUp {
			t.Errorf("after a pass: %v, want up", h)
		}
	})
}

// flakyStore is a memStore whose writes fail when fail is set.
type flakyStore struct {
	memStore
	fail bool
}

func (s *flakyStore) PutHealth(ws []store.HealthWrite, at time.Time) error {
	if s.fail && len(ws) > 0 {
		return errors.New("disk full")
	}
	return s.memStore.PutHealth(ws, at)
}

// TestKeeperFollowsChanges: a Keeper over many pools (it looks only at
// the pools that changed since its last write) keeps what the view says
// through random registrations, removals, health changes, pools that
// come and go, zone reloads and failed writes (tried again at the next
// Flush); a Flush with nothing changed writes nothing.
func TestKeeperFollowsChanges(t *testing.T) {
	clock := probetest.NewFakeClock(time.Time{})
	hs := handlespace.New(handlespace.Options{RegistrarID: self, Probing: true, Now: clock.Now})
	def := zonestest.Def(t, testZone)
	if err := hs.ApplyZones([]handlespace.ZoneDef{def}); err != nil {
		t.Fatal(err)
	}
	st := &flakyStore{memStore: memStore{m: map[string]handlespace.Health{}}}
	kp := monitor.NewKeeper(hs, st, monitor.KeeperConfig{Clock: clock, Logger: discard()})
	tcp := &handlespace.ProbeSpec{Kind: "tcp", Interval: time.Second, Timeout: time.Second, Rise: 1, Fall: 1}
	rng := rand.New(rand.NewPCG(3, 11))
	// (Not unknown: an element that goes unknown keeps its last known
	// health in the store, which viewHealths does not say.)
	known := []handlespace.Health{hUp, hDown}
	for round := range 300 {
		for range rng.IntN(8) {
			pool := fmt.Sprintf("p%d.pool.test.", rng.IntN(12))
			i := rng.IntN(6)
			a := netip.AddrFrom4([4]byte{10, 9, 0, byte(i)})
			id := handlespace.ElementID(a, 80)
			switch rng.IntN(4) {
			case 0:
				hs.Do(handlespace.Op{Pool: pool, ID: id}) // may be missing: fine
			case 1:
				hs.Update(pool, id, func(e *handlespace.Element) { e.Health = known[rng.IntN(2)] })
			default:
				e := &handlespace.Element{ID: id, Label: handlespace.LabelOf(fmt.Sprintf("e%d", i)), Addrs: handlespace.AddrsOf(a), Port: 80, Weight: 1}
				if rng.IntN(2) == 0 {
					e.Probe = handlespace.ProbeRefOf(tcp)
				}
				hs.Do(handlespace.Op{Pool: pool, Elem: e})
			}
		}
		if round%50 == 49 {
			if err := hs.ApplyZones([]handlespace.ZoneDef{def}); err != nil {
				t.Fatal(err)
			}
		}
		st.fail = rng.IntN(5) == 0
		kp.Flush()
		if st.fail {
			continue
		}
		if got, want := st.m, viewHealths(hs); !maps.Equal(got, want) {
			t.Fatalf("round %d: stored %v, view %v", round, got, want)
		}
		if n := kp.Flush(); n != 0 {
			t.Fatalf("round %d: a Flush with nothing changed wrote %d", round, n)
		}
	}
	if st.txs < 100 {
		t.Errorf("only %d writes: the changes did not reach the probed elements", st.txs)
	}
}
