package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/poolnsd/poolnsd/handlespace"
	bolt "go.etcd.io/bbolt"
)

// openTestStore opens a store in dir (a new t.TempDir if ""), and at the
// end of the test closes it and checks the file: bbolt's consistency
// check and the store's own invariants (see checkLayout).
func openTestStore(t *testing.T, dir string) *Store {
	t.Helper()
	return openChecked(t, dir, true)
}

// openDamagedStore is openTestStore for the tests that damage the store's
// records on purpose: its file gets bbolt's consistency check only.
func openDamagedStore(t *testing.T, dir string) *Store {
	t.Helper()
	return openChecked(t, dir, false)
}

func openChecked(t *testing.T, dir string, layout bool) *Store {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	s, err := Open(dir)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		checkStoreFile(t, s.Path(), layout)
	})
	return s
}

// checkStoreFile runs bbolt's consistency check on a closed store file
// and, if layout, checks the store's invariants.
func checkStoreFile(t *testing.T, path string, layout bool) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Errorf("consistency check: open %s: %v", path, err)
		return
	}
	defer db.Close()
	err = db.View(func(tx *bolt.Tx) error {
		var errs []error
		for err := range tx.Check() {
			errs = append(errs, err)
		}
		if layout {
			errs = append(errs, checkLayout(tx)...)
		}
		return errors.Join(errs...)
	})
	if err != nil {
		t.Errorf("consistency check of %s: %v", path, err)
	}
}

// checkLayout checks what Store's documentation promises of the file: a
// format this code reads and a non-zero registrar ID; element keys of a
// lower-case pool FQDN and an ID, each holding a record that decodes to
// the element of that ID; administrative states keyed alike, each a state
// other than auto.
func checkLayout(tx *bolt.Tx) []error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	meta := tx.Bucket(bucketMeta)
	if meta == nil {
		return []error{errors.New("no meta bucket")}
	}
	if f, err := strconv.Atoi(string(meta.Get(keyFormat))); err != nil || f < 1 || f > Format {
		bad("format %q, want 1 to %d", meta.Get(keyFormat), Format)
	}
	if id := meta.Get(keyRegistrarID); len(id) != 4 || binary.BigEndian.Uint32(id) == 0 {
		bad("registrar ID %x, want 4 bytes, not zero", id)
	}
	key := func(bucket string, k []byte) (uint32, bool) {
		pool, id, ok := splitElementKey(k)
		if !ok || pool != normPool(pool) {
			bad("%s: key %q is not a lower-case pool FQDN, 0x00 and an ID", bucket, k)
			return 0, false
		}
		return id, true
	}
	for _, b := range []string{"elements", "admin"} {
		if tx.Bucket([]byte(b)) == nil {
			bad("no %s bucket", b)
			return errs
		}
	}
	tx.Bucket(bucketElements).ForEach(func(k, v []byte) error {
		if id, ok := key("elements", k); ok {
			if e, err := decodeElement(v); err != nil {
				bad("elements: %q: %v", k, err)
			} else if e.ID != id {
				bad("elements: %q holds element %s", k, handlespace.IDString(e.ID))
			}
		}
		return nil
	})
	tx.Bucket(bucketAdmin).ForEach(func(k, v []byte) error {
		if _, ok := key("admin", k); ok {
			if a, err := handlespace.ParseAdmin(string(v)); err != nil || a == handlespace.AdminAuto {
				bad("admin: %q holds %q, want drain or force-down", k, v)
			}
		}
		return nil
	})
	return errs
}

func TestStoreIdentityStable(t *testing.T) {
	dir := t.TempDir()
	s1, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	id := s1.RegistrarID()
	if id == 0 {
		t.Fatal("registrar ID is 0")
	}
	if err := s1.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s1.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	s2 := openTestStore(t, dir)
	if got := s2.RegistrarID(); got != id {
		t.Errorf("registrar ID after reopen = %08x, want %08x", got, id)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !fi.IsDir() {
		t.Fatal("data directory is not a directory")
	}
}

func TestStoreCreatesDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "data")
	openTestStore(t, dir)
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o700 {
		t.Errorf("data directory mode %o, want 700", perm)
	}
	if _, err := os.Stat(filepath.Join(dir, File)); err != nil {
		t.Error(err)
	}
}

func TestStoreElementsRoundTrip(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, dir)
	exp := time.Date(2030, 1, 2, 3, 4, 5, 6, time.UTC)
	e1 := &handlespace.Element{
		ID: 0x0000abcd, Label: handlespace.LabelOf("pe1"),
		Addrs: handlespace.AddrsOf(netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("2001:db8::1")),
		Port:  8080, Transport: handlespace.TransportUDP, Weight: 10, Priority: 2, Load: handlespace.LoadFull / 2,
		LoadDeg: 1000, Site: handlespace.SiteNameOf("fra"), Expires: handlespace.ExpiryOf(exp), Home: 77,
	}
	e2 := &handlespace.Element{ID: 1, Label: handlespace.LabelOf("a"), Addrs: handlespace.AddrsOf(netip.MustParseAddr("192.0.2.2")), Port: 53}
	e3 := &handlespace.Element{ID: 2, Label: handlespace.LabelOf("b"), Addrs: handlespace.AddrsOf(netip.MustParseAddr("192.0.2.3")), Port: 53}
	for _, x := range []struct {
		pool string
		e    *handlespace.Element
	}{{"Web.Pool.Example", e1}, {"api.pool.example.", e2}, {"api.pool.example.", e3}} {
		if err := s.PutElement(x.pool, x.e); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.DeleteElement("api.pool.example.", 1); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteElement("api.pool.example.", 99); err != nil {
		t.Fatalf("deleting a missing element: %v", err)
	}
	// Replace: the same key holds the new record.
	e3b := e3.Clone()
	e3b.Port = 5353
	if err := s.PutElement("api.pool.example.", e3b); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s2 := openTestStore(t, dir)
	type got struct {
		pool string
		e    *handlespace.Element
	}
	var all []got
	if err := s2.Elements(func(pool string, e *handlespace.Element) error {
		all = append(all, got{pool, e})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	want := []got{{"api.pool.example.", e3b}, {"web.pool.example.", e1}}
	if len(all) != len(want) {
		t.Fatalf("loaded %d elements, want %d: %+v", len(all), len(want), all)
	}
	for i := range want {
		if all[i].pool != want[i].pool {
			t.Errorf("element %d: pool %q, want %q", i, all[i].pool, want[i].pool)
		}
		if !all[i].e.Expires.Time().Equal(want[i].e.Expires.Time()) {
			t.Errorf("element %d: expires %v, want %v", i, all[i].e.Expires.Time(), want[i].e.Expires.Time())
		}
		a, b := *all[i].e.Clone(), *want[i].e.Clone() // Clone: the same layout (one address kept inline)
		a.Expires, b.Expires = handlespace.ExpiryOf(time.Time{}), handlespace.ExpiryOf(time.Time{})
		if !reflect.DeepEqual(a, b) {
			t.Errorf("element %d:\n got %+v\nwant %+v", i, a, b)
		}
	}

	// An error from f stops the walk and comes back as is.
	stop := errors.New("stop")
	n := 0
	if err := s2.Elements(func(string, *handlespace.Element) error { n++; return stop }); err != stop || n != 1 {
		t.Errorf("Elements with failing f: err %v after %d calls, want stop after 1", err, n)
	}
}

func TestStoreRecordFormat(t *testing.T) {
	// The documented encoding: a format change must bump the version.
	e := &handlespace.Element{ID: 0xabcd, Label: handlespace.LabelOf("pe1"), Addrs: handlespace.AddrsOf(netip.MustParseAddr("192.0.2.1")), Port: 8080,
		Weight: 10, Expires: handlespace.ExpiryOf(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)), Home: 7}
	b, err := encodeElement(e)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"v":1,"id":"0000abcd","label":"pe1","addrs":["192.0.2.1"],"port":8080,"weight":10,"expires":"2030-01-02T03:04:05Z","home":7}`
	if string(b) != want {
		t.Errorf("record\n got %s\nwant %s", b, want)
	}
	if _, err := decodeElement([]byte(`{"v":2,"id":"0000abcd"}`)); err == nil {
		t.Error("a record of an unknown version decoded")
	}
}

func TestStoreOpenErrors(t *testing.T) {
	t.Run("unwritable", func(t *testing.T) {
		// Tests may run as root, who can write anywhere: a path under a
		// regular file cannot be created by anyone.
		file := filepath.Join(t.TempDir(), "file")
		if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
		dir := filepath.Join(file, "data")
		_, err := Open(dir)
		want := "data directory " + dir + ": cannot create: mkdir " + file + ": not a directory"
		if err == nil || err.Error() != want {
			t.Errorf("error\n got %v\nwant %s", err, want)
		}
	})
	t.Run("not a directory", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "file")
		if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := Open(file)
		want := "data directory " + file + ": cannot create: mkdir " + file + ": not a directory"
		if err == nil || err.Error() != want {
			t.Errorf("error\n got %v\nwant %s", err, want)
		}
	})
	t.Run("locked", func(t *testing.T) {
		dir := t.TempDir()
		openTestStore(t, dir)
		start := time.Now()
		s, err := Open(dir)
		if err == nil {
			s.Close()
		}
		want := filepath.Join(dir, File) + ": locked by another process (is another poolnsd using this data directory?)"
		if err == nil || err.Error() != want {
			t.Errorf("error\n got %v\nwant %s", err, want)
		}
		if d := time.Since(start); d > 5*storeLockTimeout {
			t.Errorf("gave up after %v, want about %v", d, storeLockTimeout)
		}
	})
	for _, c := range []struct {
		name    string
		garbage []byte
	}{
		{"corrupt short", []byte("this is not a database\n")},
		{"corrupt long", []byte(strings.Repeat("garbage!", 4096))},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, File)
			if err := os.WriteFile(path, c.garbage, 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := Open(dir)
			want := path + ": not a poolnsd store or corrupt (invalid database); move it away to start afresh"
			if err == nil || err.Error() != want {
				t.Errorf("error\n got %v\nwant %s", err, want)
			}
		})
	}
	t.Run("foreign bbolt database", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, File)
		db, err := bolt.Open(path, 0o600, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("other")); return err }); err != nil {
			t.Fatal(err)
		}
		db.Close()
		_, err = Open(dir)
		want := path + `: not a poolnsd store (a bbolt database without poolnsd's "meta" bucket); move it away to start afresh`
		if err == nil || err.Error() != want {
			t.Errorf("error\n got %v\nwant %s", err, want)
		}
	})
	t.Run("newer format", func(t *testing.T) {
		dir := t.TempDir()
		s := openDamagedStore(t, dir)
		if err := s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Put(keyFormat, []byte("99")) }); err != nil {
			t.Fatal(err)
		}
		s.Close()
		_, err := Open(dir)
		want := filepath.Join(dir, File) + ": store format 99 is newer than this poolnsd reads (" + strconv.Itoa(Format) + "); use a newer poolnsd"
		if err == nil || err.Error() != want {
			t.Errorf("error\n got %v\nwant %s", err, want)
		}
	})
}

func TestStoreBadRecord(t *testing.T) {
	s := openDamagedStore(t, "")
	if err := s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketElements).Put(elementKey("web.pool.example.", 5), []byte("{"))
	}); err != nil {
		t.Fatal(err)
	}
	err := s.Elements(func(string, *handlespace.Element) error { return nil })
	want := s.Path() + ": element 00000005 of web.pool.example.: bad record: unexpected end of JSON input; move the store away to start afresh"
	if err == nil || err.Error() != want {
		t.Errorf("error\n got %v\nwant %s", err, want)
	}
}
