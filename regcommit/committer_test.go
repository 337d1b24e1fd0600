package regcommit

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/internal/hstest"
	"github.com/poolnsd/poolnsd/store"
)

var t0 = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

// clock is a fake clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	return c.now
}

// testStore is a real store with hooks: it records commits, can fail, and
// can hold a commit until released.
type testStore struct {
	inner *store.Store

	mu      sync.Mutex
	commits [][]store.Write
	fail    error
	hold    chan struct{} // when set, a commit waits for it to close
	entered chan struct{} // signalled when a commit begins
}

func (s *testStore) Commit(ops []store.Write) error {
	s.mu.Lock()
	hold, entered, fail := s.hold, s.entered, s.fail
	s.commits = append(s.commits, ops)
	s.mu.Unlock()
	if entered != nil {
		entered <- struct{}{}
	}
	if hold != nil {
		<-hold
	}
	if fail != nil {
		return fail
	}
	return s.inner.Commit(ops)
}

// holdCommits makes the commits from now on wait: entered gets a value as
// each begins, and release lets the waiting ones go on and ends the hold.
func (s *testStore) holdCommits() (entered <-chan struct{}, release func()) {
	hold, ent := make(chan struct{}), make(chan struct{}, 1)
	s.mu.Lock()
	s.hold, s.entered = hold, ent
	s.mu.Unlock()
	return ent, func() {
		s.mu.Lock()
		s.hold, s.entered = nil, nil
		s.mu.Unlock()
		close(hold)
	}
}

func (s *testStore) stored(t *testing.T) []string {
	t.Helper()
	var out []string
	if err := s.inner.Elements(func(pool string, e *handlespace.Element) error {
		out = append(out, fmt.Sprintf("%s%s", e.Label.String(), strings.TrimPrefix(pool, "web")))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

const zoneText = `z.test. 60 IN SOA ns.z.test. h.z.test. 1 60 60 60 10
z.test. 60 IN NS ns.z.test.
ns.z.test. 60 IN A 192.0.2.1
`

type fixture struct {
	hs     *handlespace.Handlespace
	store  *testStore
	clk    *clock
	r      *Committer
	queued chan struct{} // a value per queued request
}

func newFixture(t *testing.T, cfg Config) *fixture {
	t.Helper()
	clk := &clock{now: t0}
	hs := handlespace.New(handlespace.Options{RegistrarID: 9, Now: clk.Now})
	rrs := hstest.RRs(t, zoneText)
	static := &handlespace.Element{ID: 1, Label: handlespace.LabelOf("s1"), Addrs: handlespace.AddrsOf(netip.MustParseAddr("10.9.9.9")), Port: 80}
	spec := handlespace.DefaultPoolSpec()
	if err := hs.ApplyZones([]handlespace.ZoneDef{{Origin: "z.test.", File: "z", Records: rrs,
		Pools: []handlespace.PoolDef{{Handle: "web", Spec: spec, Elements: []*handlespace.Element{static}}}}}); err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ts := &testStore{inner: st}
	cfg.Now = clk.Now
	r := New(hs, ts, cfg)
	f := &fixture{hs: hs, store: ts, clk: clk, r: r, queued: make(chan struct{}, 1000)}
	r.queued = func() { f.queued <- struct{}{} }
	t.Cleanup(r.Close)
	return f
}

// waitQueued waits until n more requests have been queued.
func (f *fixture) waitQueued(t *testing.T, n int) {
	t.Helper()
	deadline := time.NewTimer(10 * time.Second)
	defer deadline.Stop()
	for i := 0; i < n; i++ {
		select {
		case <-f.queued:
		case <-deadline.C:
			t.Fatalf("only %d of %d requests queued", i, n)
		}
	}
}

func el(addr string, port uint16) *handlespace.Element {
	return &handlespace.Element{Addrs: handlespace.AddrsOf(netip.MustParseAddr(addr)), Port: port, Weight: 1}
}

// reg is a request registering label in pool web with lease.
func reg(owner, label string, e *handlespace.Element, lease time.Duration) *Request {
	return &Request{
		Who:  Who{Owner: owner},
		Keys: []string{Key("web.z.test.", label)},
		Build: func(*handlespace.View) ([]Change, error) {
			c := *e
			return []Change{{Pool: "web.z.test.", Label: label, Elem: &c, Lease: lease}}, nil
		},
	}
}

func unreg(owner, label string) *Request {
	return &Request{
		Who:  Who{Owner: owner},
		Keys: []string{Key("web.z.test.", label)},
		Build: func(*handlespace.View) ([]Change, error) {
			return []Change{{Pool: "web.z.test.", Label: label}}, nil
		},
	}
}

func (f *fixture) submit(t *testing.T, req *Request) (Result, error) {
	t.Helper()
	return f.r.Submit(context.Background(), req)
}

func (f *fixture) elem(label string) *handlespace.Element {
	pv := f.hs.View().Zone("z.test.").Pool("web")
	if pv == nil {
		return nil
	}
	return pv.Label(label)
}

func TestRegisterRefreshExpire(t *testing.T) {
	f := newFixture(t, Config{})
	res, err := f.submit(t, reg("tsig:k.", "pe1", el("10.0.0.1", 8080), 10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if res.Lease != 10*time.Second || len(res.Done) != 1 || !res.Done[0].Created {
		t.Fatalf("result %+v", res)
	}
	e := f.elem("pe1")
	if e == nil || e.Owner.String() != "tsig:k." || e.Lease != 10*time.Second || !e.Expires.Time().Equal(t0.Add(10*time.Second)) || e.Home != 9 {
		t.Fatalf("registered element %+v", e)
	}
	if got := f.store.stored(t); len(got) != 1 || got[0] != "pe1.z.test." {
		t.Fatalf("store holds %q", got)
	}
	// A refresh five seconds later: the lease runs from then.
	f.clk.Add(5 * time.Second)
	res, err = f.submit(t, reg("tsig:k.", "pe1", el("10.0.0.1", 8080), 10*time.Second))
	if err != nil || res.Done[0].Created {
		t.Fatalf("refresh: %+v %v", res, err)
	}
	if e2 := f.elem("pe1"); e2.ID != e.ID || !e2.Expires.Time().Equal(t0.Add(15*time.Second)) {
		t.Fatalf("refreshed element %+v", e2)
	}
	if n := f.r.Sweep(t0.Add(12 * time.Second)); n != 0 || f.elem("pe1") == nil {
		t.Fatalf("sweep at +12s removed %d; the refresh moved the end to +15s", n)
	}
	if n := f.r.Sweep(t0.Add(15 * time.Second)); n != 1 || f.elem("pe1") != nil {
		t.Fatalf("sweep at +15s removed %d, element %v", n, f.elem("pe1"))
	}
	if got := f.store.stored(t); len(got) != 0 {
		t.Errorf("store after the expiry holds %q", got)
	}
	if s := f.r.Stats(); s.Expired != 1 || s.Elements != 0 {
		t.Errorf("stats %+v", s)
	}
}

func TestLeaseClamp(t *testing.T) {
	c := Config{LeaseDefault: 60 * time.Second, LeaseMin: 5 * time.Second, LeaseMax: 24 * time.Hour}
	for _, x := range []struct{ ask, want time.Duration }{
		{0, time.Minute}, {time.Second, 5 * time.Second}, {30 * time.Second, 30 * time.Second},
		{100 * 24 * time.Hour, 24 * time.Hour}, {-time.Second, time.Minute},
	} {
		if got := c.Clamp(x.ask); got != x.want {
			t.Errorf("Clamp(%v) = %v, want %v", x.ask, got, x.want)
		}
	}
	f := newFixture(t, Config{LeaseMin: 5 * time.Second})
	res, err := f.submit(t, reg("tsig:k.", "pe1", el("10.0.0.1", 8080), time.Second))
	if err != nil || res.Lease != 5*time.Second {
		t.Errorf("lease of 1s: granted %v (%v), want 5s", res.Lease, err)
	}
}

func TestOwnershipAndStatic(t *testing.T) {
	f := newFixture(t, Config{})
	if _, err := f.submit(t, reg("tsig:a.", "pe1", el("10.0.0.1", 8080), 0)); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		req  *Request
		want string
	}{
		{"another key changes it", reg("tsig:b.", "pe1", el("10.0.0.2", 8080), 0), "belongs to TSIG key a."},
		{"another key removes it", unreg("tsig:b.", "pe1"), "belongs to TSIG key a."},
		{"a zone file's element", reg("tsig:a.", "s1", el("10.0.0.3", 8080), 0), "defined by a zone file"},
		{"removing a zone file's element", unreg("tsig:a.", "s1"), "defined by a zone file"},
		{"no address", reg("tsig:a.", "pe2", &handlespace.Element{Port: 80}, 0), "has no address"},
		{"bad label", reg("tsig:a.", "Bad.Label", el("10.0.0.3", 80), 0), "bad element label"},
	} {
		_, err := f.submit(t, c.req)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
	if e := f.elem("pe1"); e == nil || e.Addrs.At(0).String() != "10.0.0.1" {
		t.Errorf("pe1 after refused changes: %+v", e)
	}
	// An admin may change it, and it keeps its owner.
	admin := reg("http", "pe1", el("10.0.0.5", 8080), 0)
	admin.Who.Admin = true
	if _, err := f.submit(t, admin); err != nil {
		t.Fatal(err)
	}
	if e := f.elem("pe1"); e.Addrs.At(0).String() != "10.0.0.5" || e.Owner.String() != "tsig:a." {
		t.Errorf("pe1 after an admin's change: %+v", e)
	}
	// Removing what is not there succeeds and does nothing.
	res, err := f.submit(t, unreg("tsig:a.", "nope"))
	if err != nil || len(res.Done) != 0 {
		t.Errorf("removing a missing element: %+v %v", res, err)
	}
}

func TestQuotas(t *testing.T) {
	f := newFixture(t, Config{MaxPerOwner: 2, MaxPerPool: 4})
	for i, label := range []string{"a1", "a2"} {
		if _, err := f.submit(t, reg("tsig:a.", label, el(fmt.Sprintf("10.0.0.%d", i+1), 80), 0)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.submit(t, reg("tsig:a.", "a3", el("10.0.0.3", 80), 0)); CodeOf(err) != Refused || !strings.Contains(err.Error(), "max_per_key = 2") {
		t.Errorf("third element of a key: %v, want the per-key quota", err)
	}
	if _, err := f.submit(t, reg("tsig:a.", "a1", el("10.0.0.1", 80), 0)); err != nil {
		t.Errorf("refresh at the quota: %v", err)
	}
	for i, label := range []string{"b1", "b2"} {
		if _, err := f.submit(t, reg("tsig:b.", label, el(fmt.Sprintf("10.0.1.%d", i+1), 80), 0)); err != nil {
			t.Fatal(err)
		}
	}
	admin := reg("http", "h1", el("10.0.2.1", 80), 0)
	admin.Who.Admin = true
	if _, err := f.submit(t, admin); CodeOf(err) != Refused || !strings.Contains(err.Error(), "max_per_pool = 4") {
		t.Errorf("fifth registered element of the pool: %v, want the per-pool quota (the zone file's does not count)", err)
	}
	if _, err := f.submit(t, unreg("tsig:a.", "a2")); err != nil {
		t.Fatal(err)
	}
	if _, err := f.submit(t, reg("tsig:a.", "a3", el("10.0.0.3", 80), 0)); err != nil {
		t.Errorf("after a removal the key may register again: %v", err)
	}
}

func TestIdentifiers(t *testing.T) {
	f := newFixture(t, Config{})
	res, err := f.submit(t, reg("tsig:k.", "0a1b2c3d", el("10.0.0.1", 80), 0))
	if err != nil || res.Done[0].ID != 0x0a1b2c3d {
		t.Fatalf("hex label: %+v %v", res, err)
	}
	if id, _ := LabelID("pe1"); id == 0 {
		t.Fatal("zero hash")
	}
	res, err = f.submit(t, reg("tsig:k.", "pe1", el("10.0.0.2", 80), 0))
	if want, _ := LabelID("pe1"); err != nil || res.Done[0].ID != want {
		t.Fatalf("label pe1: %+v %v, want ID %08x", res, err, want)
	}
	// Two labels with the same hash: the second gets the next free value,
	// in one batch or in two.
	a, b := collision(t)
	ha, _ := LabelID(a)
	if _, err := f.submit(t, reg("tsig:k.", a, el("10.0.0.3", 80), 0)); err != nil {
		t.Fatal(err)
	}
	res, err = f.submit(t, reg("tsig:k.", b, el("10.0.0.4", 80), 0))
	if err != nil || res.Done[0].ID != ha+1 {
		t.Fatalf("colliding label %s after %s: %+v %v, want ID %08x", b, a, res, err, ha+1)
	}
	// Refreshes keep it.
	res, err = f.submit(t, reg("tsig:k.", b, el("10.0.0.4", 80), 0))
	if err != nil || res.Done[0].ID != ha+1 {
		t.Fatalf("refresh of %s: %+v %v", b, res, err)
	}
	// An explicit identifier that another label has is refused.
	_, err = f.submit(t, reg("tsig:k.", handlespace.IDString(ha), el("10.0.0.5", 80), 0))
	if CodeOf(err) != Refused {
		t.Errorf("hex label of a taken identifier: %v", err)
	}
	// One request registering both colliding labels at once.
	both := &Request{Who: Who{Owner: "tsig:k."}, Keys: []string{Key("other.z.test.", "")},
		Build: func(*handlespace.View) ([]Change, error) {
			return []Change{
				{Pool: "other.z.test.", Label: a, Elem: el("10.0.0.6", 80)},
				{Pool: "other.z.test.", Label: b, Elem: el("10.0.0.7", 80)},
			}, nil
		}}
	res, err = f.submit(t, both)
	if err != nil || res.Done[0].ID != ha || res.Done[1].ID != ha+1 {
		t.Fatalf("both colliding labels in one request: %+v %v", res, err)
	}
}

// collision finds two labels with the same FNV-1a hash.
func collision(t *testing.T) (string, string) {
	seen := map[uint32]string{}
	for i := 0; i < 1<<22; i++ {
		l := fmt.Sprintf("col-%d", i)
		h, _ := LabelID(l)
		if o, ok := seen[h]; ok {
			return o, l
		}
		seen[h] = l
	}
	t.Fatal("no collision found")
	return "", ""
}

// TestAtomic: a request with a bad change changes nothing.
func TestAtomic(t *testing.T) {
	f := newFixture(t, Config{})
	req := &Request{Who: Who{Owner: "tsig:k."}, Keys: []string{Key("web.z.test.", "")},
		Build: func(*handlespace.View) ([]Change, error) {
			return []Change{
				{Pool: "web.z.test.", Label: "ok1", Elem: el("10.0.0.1", 80)},
				{Pool: "web.z.test.", Label: "ok2", Elem: el("10.0.0.2", 80), Policy: "lu"}, // the pool is rr
			}, nil
		}}
	_, err := f.submit(t, req)
	if CodeOf(err) != Refused || !errors.Is(err, handlespace.ErrInconsistentPolicy) {
		t.Fatalf("request with an inconsistent policy: %v", err)
	}
	if f.elem("ok1") != nil || len(f.store.stored(t)) != 0 {
		t.Error("the good half of a failed request was applied")
	}
}

// TestGroupCommit: requests that queue while a commit runs share the next
// one: one store commit, one handlespace batch.
func TestGroupCommit(t *testing.T) {
	f := newFixture(t, Config{})
	entered, release := f.store.holdCommits()

	var wg sync.WaitGroup
	errs := make(chan error, 100)
	submit := func(label string, i int) {
		defer wg.Done()
		_, err := f.r.Submit(context.Background(), reg("tsig:k.", label, el(fmt.Sprintf("10.1.%d.%d", i/250, i%250), 80), 0))
		errs <- err
	}
	wg.Add(1)
	go submit("first", 0)
	<-entered // the first commit is running and held
	f.waitQueued(t, 1)
	const n = 50
	for i := 1; i <= n; i++ {
		wg.Add(1)
		go submit(fmt.Sprintf("pe%d", i), i)
	}
	f.waitQueued(t, n)
	release()
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	f.store.mu.Lock()
	commits := f.store.commits
	f.store.mu.Unlock()
	if len(commits) != 2 || len(commits[0]) != 1 || len(commits[1]) != n {
		sizes := []int{}
		for _, c := range commits {
			sizes = append(sizes, len(c))
		}
		t.Fatalf("commits of sizes %v, want [1 %d]", sizes, n)
	}
	if s := f.r.Stats(); s.Commits != 2 || s.MaxBatch != n || s.Elements != n+1 {
		t.Errorf("stats %+v", s)
	}
	if got := f.hs.View().Zone("z.test.").Pool("web").Len(); got != n+2 {
		t.Errorf("%d elements in the pool, want %d", got, n+2)
	}
}

// TestConflictWaits: a request whose keys meet an earlier one's in the same
// batch runs in the next batch, and its Build sees the earlier one's
// effect.
func TestConflictWaits(t *testing.T) {
	f := newFixture(t, Config{})
	entered, release := f.store.holdCommits()
	done := make(chan error, 3)
	go func() {
		_, err := f.r.Submit(context.Background(), reg("tsig:k.", "other", el("10.0.0.9", 80), 0))
		done <- err
	}()
	<-entered
	f.waitQueued(t, 1)
	go func() {
		_, err := f.r.Submit(context.Background(), reg("tsig:k.", "x", el("10.0.0.1", 80), 0))
		done <- err
	}()
	// Waits until x is queued, then queues a request that needs x.
	f.waitQueued(t, 1)
	var sawX bool
	needX := &Request{Who: Who{Owner: "tsig:k."}, Keys: []string{Key("web.z.test.", "x")},
		Build: func(v *handlespace.View) ([]Change, error) {
			sawX = v.Zone("z.test.").Pool("web").Label("x") != nil
			return nil, nil
		}}
	go func() { _, err := f.r.Submit(context.Background(), needX); done <- err }()
	f.waitQueued(t, 1)
	release()
	for range 3 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if !sawX {
		t.Error("the conflicting request's Build did not see the earlier request's element")
	}
	if s := f.r.Stats(); s.Deferred != 1 {
		t.Errorf("deferred %d, want 1", s.Deferred)
	}
}

// TestStoreFailure: when the store fails, nothing is published and the
// error says so; the next request works.
func TestStoreFailure(t *testing.T) {
	f := newFixture(t, Config{})
	f.store.mu.Lock()
	f.store.fail = errors.New("disk on fire")
	f.store.mu.Unlock()
	_, err := f.submit(t, reg("tsig:k.", "pe1", el("10.0.0.1", 80), 0))
	if CodeOf(err) != Unavailable || !strings.Contains(err.Error(), "nothing changed") {
		t.Fatalf("registration with a failing store: %v", err)
	}
	if f.elem("pe1") != nil {
		t.Fatal("a registration the store refused is in the handlespace")
	}
	f.store.mu.Lock()
	f.store.fail = nil
	f.store.mu.Unlock()
	if _, err := f.submit(t, reg("tsig:k.", "pe1", el("10.0.0.1", 80), 0)); err != nil {
		t.Fatal(err)
	}
	// An expiry the store cannot record stays, and is tried again.
	f.store.mu.Lock()
	f.store.fail = errors.New("disk on fire")
	f.store.mu.Unlock()
	later := t0.Add(2 * time.Minute)
	if n := f.r.Sweep(later); n != 0 || f.elem("pe1") == nil {
		t.Fatalf("sweep with a failing store removed %d", n)
	}
	f.store.mu.Lock()
	f.store.fail = nil
	f.store.mu.Unlock()
	if n := f.r.Sweep(later); n != 1 || f.elem("pe1") != nil {
		t.Fatalf("second sweep removed %d", n)
	}
}

func TestClosed(t *testing.T) {
	f := newFixture(t, Config{})
	f.r.Close()
	if _, err := f.submit(t, reg("tsig:k.", "pe1", el("10.0.0.1", 80), 0)); !errors.Is(err, ErrClosed) {
		t.Errorf("Submit after Close: %v", err)
	}
}

func TestLimiter(t *testing.T) {
	l := newLimiter(2, 3)
	a := netip.MustParseAddr("192.0.2.1")
	b := netip.MustParseAddr("::ffff:192.0.2.2")
	for i := 0; i < 3; i++ {
		if !l.allow(a, t0) {
			t.Fatalf("request %d of the burst refused", i+1)
		}
	}
	if l.allow(a, t0) {
		t.Error("a fourth request at once allowed (burst 3)")
	}
	if !l.allow(b, t0) {
		t.Error("another source refused")
	}
	if !l.allow(a, t0.Add(500*time.Millisecond)) || l.allow(a, t0.Add(500*time.Millisecond)) {
		t.Error("after half a second at 2/s exactly one more request is allowed")
	}
}

// TestDeadline: a Request whose Deadline has passed when its batch begins
// is withdrawn (context.DeadlineExceeded) and changes nothing, as one
// whose ctx ended is; one that finds the queue full waits for room until
// its Deadline.
func TestDeadline(t *testing.T) {
	f := newFixture(t, Config{MaxBatch: 1})
	past := reg("tsig:k.", "late", el("10.0.0.1", 80), 0)
	past.Deadline = time.Now().Add(-time.Millisecond)
	if _, err := f.submit(t, past); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("past deadline: %v, want %v", err, context.DeadlineExceeded)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := f.r.Submit(ctx, reg("tsig:k.", "gone", el("10.0.0.2", 80), 0)); !errors.Is(err, context.Canceled) {
		t.Fatalf("ended ctx: %v, want %v", err, context.Canceled)
	}
	if f.elem("late") != nil || f.elem("gone") != nil || len(f.store.stored(t)) != 0 {
		t.Fatal("a withdrawn request registered its element")
	}
	f.waitQueued(t, 2) // both were queued, and withdrawn in their batches

	// The committer held in a commit, its queue (4 × MaxBatch) filled.
	entered, release := f.store.holdCommits()
	done := make(chan error, 5)
	submit := func(label string) {
		_, err := f.r.Submit(context.Background(), reg("tsig:k.", label, el("10.0.0.3", 80), 0))
		done <- err
	}
	go submit("held")
	<-entered
	f.waitQueued(t, 1)
	for i := range 4 {
		go submit(fmt.Sprintf("q%d", i))
		f.waitQueued(t, 1)
	}
	full := reg("tsig:k.", "full", el("10.0.0.4", 80), 0)
	full.Deadline = time.Now().Add(50 * time.Millisecond)
	if _, err := f.submit(t, full); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("full queue: %v, want %v", err, context.DeadlineExceeded)
	}
	release()
	for range 5 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if f.elem("full") != nil || f.elem("q3") == nil {
		t.Errorf("after the queue drained: full %v, q3 %v", f.elem("full"), f.elem("q3"))
	}
}

// TestGive: an element given (Change.Give) is registered itself, its
// fields set by the committer; one not given is copied.
func TestGive(t *testing.T) {
	f := newFixture(t, Config{})
	for _, give := range []bool{true, false} {
		e := el("10.0.0.5", 80)
		label := fmt.Sprintf("give-%v", give)
		_, err := f.submit(t, &Request{Who: Who{Owner: "tsig:k."}, Keys: []string{Key("web.z.test.", label)},
			Build: func(*handlespace.View) ([]Change, error) {
				return []Change{{Pool: "web.z.test.", Label: label, Elem: e, Give: give, Lease: time.Minute}}, nil
			}})
		if err != nil {
			t.Fatal(err)
		}
		got := f.elem(label)
		if got == nil || got.Label.String() != label || got.Owner.String() != "tsig:k." || got.Lease != time.Minute || got.Port != 80 {
			t.Fatalf("give %v: registered %+v", give, got)
		}
		if (got == e) != give {
			t.Errorf("give %v: the registered element is the given one: %v", give, got == e)
		}
	}
}

// TestSignalNamesRefused: a registration may not create an element or a
// pool named `_signal` (RFC 9615's signals live there), but one made
// before the check may still be refreshed and removed.
func TestSignalNamesRefused(t *testing.T) {
	f := newFixture(t, Config{})
	if _, err := f.submit(t, reg("tsig:a.", "_signal", el("10.0.0.1", 8080), 0)); CodeOf(err) != Invalid || !strings.Contains(err.Error(), "bootstrapping signals") {
		t.Errorf("element _signal: %v, want Invalid naming the signals", err)
	}
	inPool := &Request{Who: Who{Owner: "tsig:a."}, Keys: []string{Key("_signal.z.test.", "pe1")},
		Build: func(*handlespace.View) ([]Change, error) {
			return []Change{{Pool: "_signal.z.test.", Label: "pe1", Elem: el("10.0.0.2", 8080)}}, nil
		}}
	if _, err := f.submit(t, inPool); CodeOf(err) != Invalid || !strings.Contains(err.Error(), "pool handle _signal") {
		t.Errorf("pool _signal: %v, want Invalid naming the pool handle", err)
	}
	if f.elem("_signal") != nil || f.hs.View().Zone("z.test.").Pool("_signal") != nil {
		t.Fatal("a refused registration left something behind")
	}
	// One from before the check (as a restore or a peer brings it).
	old := el("10.0.0.3", 8080)
	old.ID, old.Label, old.Owner = 77, handlespace.LabelOf("_signal"), handlespace.OwnerOf("tsig:a.")
	if err := f.hs.Do(handlespace.Op{Pool: "web.z.test.", Elem: old}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.submit(t, reg("tsig:a.", "_signal", el("10.0.0.4", 8080), 0)); err != nil {
		t.Errorf("refreshing an existing _signal element: %v", err)
	}
	if e := f.elem("_signal"); e == nil || e.Addrs.At(0).String() != "10.0.0.4" {
		t.Errorf("after the refresh: %+v", e)
	}
	if _, err := f.submit(t, unreg("tsig:a.", "_signal")); err != nil || f.elem("_signal") != nil {
		t.Errorf("removing an existing _signal element: %v, left %+v", err, f.elem("_signal"))
	}
}

// TestSubmitsLead: Submits from many goroutines, on names that meet, with
// sweeps and resyncs (run's, which take the batch lock too) in between:
// every Request is answered, in batches that the Submits run themselves,
// and the quotas' counts end where the handlespace is.
func TestSubmitsLead(t *testing.T) {
	f := newFixture(t, Config{MaxBatch: 4})
	const workers, each, labels = 8, 100, 12
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				label := fmt.Sprintf("pe%d", (w*each+i)%labels)
				var req *Request
				if i%5 == 4 {
					req = unreg("tsig:k.", label)
				} else {
					req = reg("tsig:k.", label, el(fmt.Sprintf("10.2.%d.%d", w, i), 80), 0)
				}
				if _, err := f.r.Submit(context.Background(), req); err != nil {
					errs <- fmt.Errorf("%s: %w", label, err)
				}
			}
		}()
	}
	stop := make(chan struct{})
	side := make(chan struct{})
	go func() {
		defer close(side)
		for {
			select {
			case <-stop:
				return
			default:
			}
			f.r.Sweep(t0) // nothing expired: the lock taken and handed on
			f.r.Resync()
		}
	}()
	wg.Wait()
	close(stop)
	<-side
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	s := f.r.Stats()
	if s.Requests != workers*each {
		t.Errorf("%d Requests answered, want %d", s.Requests, workers*each)
	}
	if s.MaxBatch > 4 {
		t.Errorf("a batch of %d, MaxBatch 4", s.MaxBatch)
	}
	registered := f.hs.View().Zone("z.test.").Pool("web").Len() - 1 // the static one
	if s.Elements != registered {
		t.Errorf("Stats count %d elements, the pool has %d registered", s.Elements, registered)
	}
}

// TestCloseWhileLeading: Close while a Submit's batch is held in its
// commit and others wait: the batch completes, the waiting Requests get
// ErrClosed (or were committed), and Close returns.
func TestCloseWhileLeading(t *testing.T) {
	f := newFixture(t, Config{})
	entered, release := f.store.holdCommits()
	done := make(chan error, 10)
	go func() {
		_, err := f.r.Submit(context.Background(), reg("tsig:k.", "first", el("10.3.0.1", 80), 0))
		done <- err
	}()
	<-entered
	f.waitQueued(t, 1)
	for i := range 5 {
		go func() {
			_, err := f.r.Submit(context.Background(), reg("tsig:k.", fmt.Sprintf("w%d", i), el(fmt.Sprintf("10.3.1.%d", i), 80), 0))
			done <- err
		}()
	}
	f.waitQueued(t, 5)
	closed := make(chan struct{})
	go func() { f.r.Close(); close(closed) }()
	time.Sleep(10 * time.Millisecond) // Close waits for the batch held
	release()
	if err := <-done; err != nil && !errors.Is(err, ErrClosed) {
		t.Fatalf("first: %v", err)
	}
	for range 5 {
		select {
		case err := <-done:
			if err != nil && !errors.Is(err, ErrClosed) {
				t.Errorf("a waiting Request: %v, want success or ErrClosed", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("a waiting Request was never answered after Close")
		}
	}
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return")
	}
	if f.elem("first") == nil {
		t.Error("the batch held at Close was not committed")
	}
}
