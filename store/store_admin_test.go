package store

import (
	"net/netip"
	"reflect"
	"testing"

	"github.com/poolnsd/poolnsd/handlespace"
	bolt "go.etcd.io/bbolt"
)

type storedAdmin struct {
	pool string
	id   uint32
	a    handlespace.Admin
}

func storedAdmins(t *testing.T, s *Store) []storedAdmin {
	t.Helper()
	var got []storedAdmin
	if err := s.Admins(func(pool string, id uint32, a handlespace.Admin) { got = append(got, storedAdmin{pool, id, a}) }); err != nil {
		t.Fatal(err)
	}
	return got
}

// TestStoreAdmin: administrative states survive a reopen, auto removes
// one, removing an element (DeleteElement or a Commit delete) removes its
// state, and PruneAdmins drops what keep refuses.
func TestStoreAdmin(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	a := netip.MustParseAddr("192.0.2.1")
	for _, id := range []uint32{1, 2, 3} {
		if err := s.PutElement("reg.pool.example.", &handlespace.Element{ID: id, Label: handlespace.LabelOf(handlespace.IDString(id)), Addrs: handlespace.AddrsOf(a), Port: 80, Weight: 1}); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []storedAdmin{
		{"reg.pool.example.", 1, handlespace.AdminDrain},
		{"reg.pool.example.", 2, handlespace.AdminForceDown},
		{"reg.pool.example.", 3, handlespace.AdminDrain},
		{"WEB.pool.example", 7, handlespace.AdminDrain}, // a zone file's element: no stored element
		{"web.pool.example.", 8, handlespace.AdminDrain},
		{"web.pool.example.", 8, handlespace.AdminAuto}, // given back
	} {
		if err := s.PutAdmin(c.pool, c.id, c.a); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.PutAdmin("web.pool.example.", 9, handlespace.Admin(9)); err == nil {
		t.Error("PutAdmin of state 9: no error")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openTestStore(t, dir)
	want := []storedAdmin{
		{"reg.pool.example.", 1, handlespace.AdminDrain},
		{"reg.pool.example.", 2, handlespace.AdminForceDown},
		{"reg.pool.example.", 3, handlespace.AdminDrain},
		{"web.pool.example.", 7, handlespace.AdminDrain},
	}
	if got := storedAdmins(t, s); !reflect.DeepEqual(got, want) {
		t.Fatalf("after reopen %v, want %v", got, want)
	}

	if err := s.DeleteElement("reg.pool.example.", 1); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit([]Write{{Pool: "reg.pool.example.", ID: 2}, {Pool: "reg.pool.example.", Elem: &handlespace.Element{ID: 3, Label: handlespace.LabelOf("00000003"), Addrs: handlespace.AddrsOf(a), Port: 81, Weight: 1}}}); err != nil {
		t.Fatal(err)
	}
	want = []storedAdmin{{"reg.pool.example.", 3, handlespace.AdminDrain}, {"web.pool.example.", 7, handlespace.AdminDrain}}
	if got := storedAdmins(t, s); !reflect.DeepEqual(got, want) {
		t.Fatalf("after removing elements 1 and 2 and replacing 3: %v, want %v", got, want)
	}

	n, err := s.PruneAdmins(func(pool string, id uint32) bool { return id == 3 })
	if err != nil || n != 1 {
		t.Fatalf("PruneAdmins: %d, %v; want 1, nil", n, err)
	}
	want = want[:1]
	if got := storedAdmins(t, s); !reflect.DeepEqual(got, want) {
		t.Fatalf("after pruning %v, want %v", got, want)
	}
}

func TestStoreAdminBadRecord(t *testing.T) {
	s := openDamagedStore(t, "")
	if err := s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketAdmin).Put(elementKey("web.pool.example.", 5), []byte("sleepy"))
	}); err != nil {
		t.Fatal(err)
	}
	err := s.Admins(func(string, uint32, handlespace.Admin) {})
	want := s.Path() + `: element 00000005 of web.pool.example.: bad administrative state "sleepy"; move the store away to start afresh`
	if err == nil || err.Error() != want {
		t.Errorf("error\n got %v\nwant %s", err, want)
	}
}
