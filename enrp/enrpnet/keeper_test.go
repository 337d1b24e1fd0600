package enrpnet_test

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/poolnsd/poolnsd/enrp/enrpnet"
	"github.com/poolnsd/poolnsd/handlespace"
)

// fakeStore records what a StoreKeeper writes, a line a call; Commit
// fails while fail is set and, while block is not nil, waits for it to be
// closed after saying so on entered.
type fakeStore struct {
	mu      sync.Mutex
	calls   []string
	fail    bool
	block   chan struct{}
	entered chan struct{}
}

func (s *fakeStore) log(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, fmt.Sprintf(format, args...))
}

func (s *fakeStore) Calls() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls)
}

func (s *fakeStore) Commit(batch []enrpnet.Ownership) error {
	s.mu.Lock()
	block, fail := s.block, s.fail
	s.mu.Unlock()
	if block != nil {
		s.entered <- struct{}{}
		<-block
	}
	ids := make([]uint32, len(batch))
	for i, o := range batch {
		ids[i] = o.ID
	}
	s.log("commit %v", ids)
	if fail {
		return errors.New("disk full")
	}
	return nil
}

func (s *fakeStore) PutElement(pool string, e *handlespace.Element) error {
	s.log("put %s %d", pool, e.ID)
	return nil
}

func (s *fakeStore) DeleteElement(pool string, id uint32) error {
	s.log("delete %s %d", pool, id)
	return nil
}

func (s *fakeStore) PutAdmin(pool string, id uint32, a handlespace.Admin) error {
	s.log("admin %s %d %s", pool, id, a)
	return nil
}

// keeper starts a StoreKeeper on st that logs Resync and KeepHomed into st.
func keeper(t *testing.T, st *fakeStore) *enrpnet.StoreKeeper {
	k := enrpnet.StartStoreKeeper(enrpnet.StoreKeeperConfig{Store: st,
		Resync:    func() { st.log("resync") },
		KeepHomed: func() error { st.log("keep homed"); return nil },
	})
	t.Cleanup(k.Close)
	return k
}

func own(id uint32, handed bool) []enrpnet.Ownership {
	return []enrpnet.Ownership{{Pool: "web.pool.test.", ID: id, Elem: &handlespace.Element{ID: id}, Handed: handed}}
}

func wantCalls(t *testing.T, st *fakeStore, want ...string) {
	t.Helper()
	if got := st.Calls(); !slices.Equal(got, want) {
		t.Errorf("calls %q\nwant  %q", got, want)
	}
}

// TestStoreKeeperGathers: the requests that come while a write is under
// way are written together, in one transaction, and the durable request
// among them is answered after it; a gained registration has the leases
// counted again, a move of the zone-file elements' homes has their states
// kept.
func TestStoreKeeperGathers(t *testing.T) {
	st := &fakeStore{block: make(chan struct{}), entered: make(chan struct{})}
	k := keeper(t, st)
	k.Ownership(own(1, false))
	<-st.entered // the first write is under way
	k.Ownership(own(2, false))
	k.Ownership([]enrpnet.Ownership{{Pool: "web.pool.test.", ID: 3}}) // given up
	k.StaticHomes()
	written := make(chan struct{})
	k.Durable(func() { st.log("durable"); close(written) })
	st.mu.Lock()
	close(st.block)
	st.block = nil
	st.mu.Unlock()
	<-written
	k.Close()
	wantCalls(t, st, "commit [1]", "resync", "commit [2 3]", "durable", "resync", "keep homed")
}

// TestStoreKeeperWaitsForTheHandOff: the elements of a hand-off coming in
// are gathered until its end is asked for (one transaction for all), or
// written anyway once nothing more comes for 100 ms; they are not new
// registrations to count the leases of until Handed says the
// handlespace has them.
func TestStoreKeeperWaitsForTheHandOff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := &fakeStore{}
		k := keeper(t, st)
		k.Ownership(own(1, true))
		time.Sleep(60 * time.Millisecond)
		k.Ownership(own(2, true))
		synctest.Wait()
		wantCalls(t, st) // still gathering
		k.Durable(func() { st.log("durable") })
		synctest.Wait()
		wantCalls(t, st, "commit [1 2]", "durable")

		k.Ownership(own(3, true)) // no end comes
		time.Sleep(99 * time.Millisecond)
		synctest.Wait()
		wantCalls(t, st, "commit [1 2]", "durable")
		time.Sleep(2 * time.Millisecond)
		synctest.Wait()
		wantCalls(t, st, "commit [1 2]", "durable", "commit [3]")
		k.Handed()
		synctest.Wait()
		wantCalls(t, st, "commit [1 2]", "durable", "commit [3]", "resync")
	})
}

// TestStoreKeeperOneByOne: when the transaction fails, each change is
// written alone; an element taken over drained keeps its state.
func TestStoreKeeperOneByOne(t *testing.T) {
	st := &fakeStore{fail: true}
	k := keeper(t, st)
	drained := &handlespace.Element{ID: 2, Admin: handlespace.AdminDrain}
	k.Ownership([]enrpnet.Ownership{own(1, false)[0], {Pool: "api.pool.test.", ID: 2, Elem: drained}, {Pool: "web.pool.test.", ID: 3}})
	k.Close()
	wantCalls(t, st, "commit [1 2 3]", "put web.pool.test. 1", "put api.pool.test. 2", "admin api.pool.test. 2 drain",
		"delete web.pool.test. 3", "resync")
}
