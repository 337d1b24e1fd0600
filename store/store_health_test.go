package store

import (
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/poolnsd/poolnsd/handlespace"
	bolt "go.etcd.io/bbolt"
)

// lastTxID returns the ID of the last write transaction committed.
func lastTxID(t *testing.T, s *Store) int {
	t.Helper()
	var id int
	if err := s.db.View(func(tx *bolt.Tx) error { id = int(tx.ID()); return nil }); err != nil {
		t.Fatal(err)
	}
	return id
}

type storedHealth struct {
	pool string
	id   uint32
	h    handlespace.Health
}

func storedHealths(t *testing.T, s *Store) ([]storedHealth, time.Time) {
	t.Helper()
	var got []storedHealth
	at, err := s.Healths(func(pool string, id uint32, h handlespace.Health) { got = append(got, storedHealth{pool, id, h}) })
	if err != nil {
		t.Fatal(err)
	}
	return got, at
}

// TestStoreHealth: healths written in one PutHealth survive a reopen with
// the batch's time, unknown removes one, removing an element (DeleteElement
// or a Commit delete) removes its health, PruneHealth drops what keep
// refuses, and each PutHealth is one transaction however many it writes.
func TestStoreHealth(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got, at := storedHealths(t, s); len(got) != 0 || !at.IsZero() {
		t.Fatalf("a new store has healths %v at %v", got, at)
	}
	a := netip.MustParseAddr("192.0.2.1")
	for _, id := range []uint32{1, 2, 3} {
		if err := s.PutElement("reg.pool.example.", &handlespace.Element{ID: id, Label: handlespace.LabelOf(handlespace.IDString(id)), Addrs: handlespace.AddrsOf(a), Port: 80, Weight: 1}); err != nil {
			t.Fatal(err)
		}
	}
	tx0 := lastTxID(t, s)
	at1 := time.Date(2026, 3, 1, 12, 0, 0, 123e6, time.UTC)
	if err := s.PutHealth([]HealthWrite{
		{"reg.pool.example.", 1, handlespace.HealthUp},
		{"reg.pool.example.", 2, handlespace.HealthDown},
		{"reg.pool.example.", 3, handlespace.HealthUp},
		{"WEB.pool.example", 7, handlespace.HealthUp}, // a zone file's element: no stored element
		{"web.pool.example.", 8, handlespace.HealthDown},
		{"web.pool.example.", 9, handlespace.HealthUp},
	}, at1); err != nil {
		t.Fatal(err)
	}
	at2 := at1.Add(time.Second)
	if err := s.PutHealth([]HealthWrite{
		{"web.pool.example.", 9, handlespace.HealthUnknown}, // unknown again: forgotten
		{"web.pool.example.", 8, handlespace.HealthUp},
	}, at2); err != nil {
		t.Fatal(err)
	}
	if err := s.PutHealth([]HealthWrite{{"web.pool.example.", 8, handlespace.Health(7)}}, at2); err == nil {
		t.Error("PutHealth of health 7: no error")
	}
	if err := s.PutHealth(nil, at2.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if n := lastTxID(t, s) - tx0; n != 2 {
		t.Errorf("%d health transactions, want 2 (one per non-empty PutHealth)", n)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openTestStore(t, dir)
	want := []storedHealth{
		{"reg.pool.example.", 1, handlespace.HealthUp},
		{"reg.pool.example.", 2, handlespace.HealthDown},
		{"reg.pool.example.", 3, handlespace.HealthUp},
		{"web.pool.example.", 7, handlespace.HealthUp},
		{"web.pool.example.", 8, handlespace.HealthUp},
	}
	got, at := storedHealths(t, s)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("after reopen: %v, want %v", got, want)
	}
	if !at.Equal(at2) {
		t.Errorf("written at %v, want %v (the last batch)", at, at2)
	}
	if err := s.DeleteElement("reg.pool.example.", 1); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit([]Write{{Pool: "reg.pool.example.", ID: 2}}); err != nil {
		t.Fatal(err)
	}
	n, err := s.PruneHealth(func(pool string, id uint32) bool { return id != 7 })
	if err != nil || n != 1 {
		t.Fatalf("PruneHealth: %d, %v; want 1 removed", n, err)
	}
	want = []storedHealth{{"reg.pool.example.", 3, handlespace.HealthUp}, {"web.pool.example.", 8, handlespace.HealthUp}}
	if got, _ := storedHealths(t, s); !reflect.DeepEqual(got, want) {
		t.Fatalf("after deletes and prune: %v, want %v", got, want)
	}
	if n, err := s.PruneHealth(func(string, uint32) bool { return true }); err != nil || n != 0 {
		t.Errorf("PruneHealth keeping all: %d, %v", n, err)
	}
}
