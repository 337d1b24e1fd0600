package store

import (
	"bufio"
	"bytes"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/poolnsd/poolnsd/handlespace"
	bolt "go.etcd.io/bbolt"
)

// logElem is element id of the log tests, its load set to v (so that each
// write of the same element is told apart).
func logElem(id uint32, v uint32) *handlespace.Element {
	return &handlespace.Element{ID: id, Label: handlespace.LabelOf(fmt.Sprintf("pe%d", id)), Addrs: handlespace.AddrsOf(netip.AddrFrom4([4]byte{10, 0, byte(id >> 8), byte(id)})),
		Port: 80, Weight: 1, Load: v, Owner: handlespace.OwnerOf("tsig:k."), Expires: handlespace.ExpiryOf(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)), Lease: time.Minute}
}

// storedLoads reads the store's elements as ID → load.
func storedLoads(t *testing.T, s *Store) map[uint32]uint32 {
	t.Helper()
	got := map[uint32]uint32{}
	if err := s.Elements(func(pool string, e *handlespace.Element) error {
		if pool != "web.pool.example." {
			t.Errorf("element %d in pool %q", e.ID, pool)
		}
		got[e.ID] = e.Load
		return nil
	}); err != nil {
		t.Fatalf("Elements: %v", err)
	}
	return got
}

// boltLoads reads the elements bucket of the closed store at dir as bbolt
// has it, without the log.
func boltLoads(t *testing.T, dir string) map[uint32]uint32 {
	t.Helper()
	db, err := bolt.Open(filepath.Join(dir, File), 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	got := map[uint32]uint32{}
	db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketElements).ForEach(func(k, v []byte) error {
			e, err := decodeElement(v)
			if err != nil {
				t.Errorf("%q: %v", k, err)
				return nil
			}
			got[e.ID] = e.Load
			return nil
		})
	})
	return got
}

func sameLoads(t *testing.T, what string, got, want map[uint32]uint32) {
	t.Helper()
	for id, v := range want {
		if g, ok := got[id]; !ok || g != v {
			t.Errorf("%s: element %d: load %d (present %v), want %d", what, id, g, ok, v)
		}
	}
	for id := range got {
		if _, ok := want[id]; !ok {
			t.Errorf("%s: element %d present, want it removed or never written", what, id)
		}
	}
}

// TestLogReplay: writes that are only in the log (no compaction yet) are
// not in the bbolt file, and the next Open puts them there and removes
// the log.
func TestLogReplay(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenWith(dir, Options{LogCompact: 1 << 30})
	if err != nil {
		t.Fatal(err)
	}
	want := map[uint32]uint32{}
	for i := uint32(1); i <= 50; i++ {
		if err := s.Commit([]Write{{Pool: "web.pool.example.", Elem: logElem(i, i)}, {Pool: "Web.Pool.Example", Elem: logElem(i+100, i)}}); err != nil {
			t.Fatal(err)
		}
		want[i], want[i+100] = i, i
	}
	for i := uint32(1); i <= 50; i += 7 {
		if err := s.Commit([]Write{{Pool: "web.pool.example.", Elem: logElem(i, 1000+i)}, {Pool: "web.pool.example.", ID: i + 100}}); err != nil {
			t.Fatal(err)
		}
		want[i] = 1000 + i
		delete(want, i+100)
	}
	st := s.LogStats()
	if st.Batches != 58 || st.Compactions != 0 || st.Segments != 1 || st.Bytes == 0 {
		t.Errorf("log stats %+v, want 58 batches in 1 segment, no compaction", st)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if got := boltLoads(t, dir); len(got) != 0 {
		t.Errorf("bbolt holds %d elements before the replay, want 0 (all in the log)", len(got))
	}
	s = openTestStore(t, dir)
	if st := s.LogStats(); st.Replayed != 100+16 || st.Segments != 1 || st.Bytes != 0 {
		t.Errorf("after reopening: log stats %+v, want 116 writes replayed, one empty segment", st)
	}
	sameLoads(t, "after replay", storedLoads(t, s), want)
}

// TestLogTornTail: a batch that a crash cut (a short header, a short
// payload, a payload that fails its checksum) and whatever follows it in
// its segment are not replayed; the batches before it are.
func TestLogTornTail(t *testing.T) {
	for _, c := range []struct {
		name string
		tail func(good []byte) []byte
	}{
		{"short header", func([]byte) []byte { return []byte{0, 0, 1} }},
		{"short payload", func(good []byte) []byte { return good[:len(good)-3] }},
		{"bad checksum", func(good []byte) []byte {
			b := append([]byte(nil), good...)
			b[len(b)-1] ^= 1
			return b
		}},
		{"zeros", func(good []byte) []byte { return make([]byte, 4096) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			s, err := OpenWith(dir, Options{LogCompact: 1 << 30})
			if err != nil {
				t.Fatal(err)
			}
			for i := uint32(1); i <= 3; i++ {
				if err := s.Commit([]Write{{Pool: "web.pool.example.", Elem: logElem(i, i)}}); err != nil {
					t.Fatal(err)
				}
			}
			seg := filepath.Join(dir, segName(s.log.seg))
			before, err := os.ReadFile(seg)
			if err != nil {
				t.Fatal(err)
			}
			// One more batch, which becomes the torn tail.
			if err := s.Commit([]Write{{Pool: "web.pool.example.", Elem: logElem(4, 4)}, {Pool: "web.pool.example.", ID: 1}}); err != nil {
				t.Fatal(err)
			}
			s.Close()
			after, err := os.ReadFile(seg)
			if err != nil {
				t.Fatal(err)
			}
			torn := append(before, c.tail(after[len(before):])...)
			// And a good batch after the torn one, which must not count.
			torn = append(torn, after[len(before):]...)
			if err := os.WriteFile(seg, torn, 0o600); err != nil {
				t.Fatal(err)
			}
			s = openTestStore(t, dir)
			sameLoads(t, "after the torn batch", storedLoads(t, s), map[uint32]uint32{1: 1, 2: 2, 3: 3})
		})
	}
}

// TestLogCompaction: with a small LogCompact the compactor runs while
// writes go on; the store ends up as a model of the writes says, and the
// log shrinks back to its newest segment.
func TestLogCompaction(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenWith(dir, Options{LogCompact: 4096})
	if err != nil {
		t.Fatal(err)
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	want := map[uint32]uint32{}
	for i := 0; i < 400; i++ {
		var ws []Write
		for range 1 + rng.IntN(8) {
			id := uint32(1 + rng.IntN(150))
			if rng.IntN(4) == 0 {
				ws = append(ws, Write{Pool: "web.pool.example.", ID: id})
				delete(want, id)
				continue
			}
			v := uint32(i)
			ws = append(ws, Write{Pool: "web.pool.example.", Elem: logElem(id, v)})
			want[id] = v
		}
		if err := s.Commit(ws); err != nil {
			t.Fatal(err)
		}
	}
	sameLoads(t, "Elements", storedLoads(t, s), want)
	st := s.LogStats()
	if st.Compactions == 0 || st.Segments != 1 || st.Bytes != 0 || st.LastError != "" {
		t.Errorf("log stats %+v, want compactions, one empty segment, no error", st)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	sameLoads(t, "bbolt after Elements' flush", boltLoads(t, dir), want)
	checkStoreFile(t, filepath.Join(dir, File), true)
}

// TestLogUpgradesFormat1: a store of format 1 (no log) opens, keeps its
// elements and becomes format 2, which an older poolnsd refuses.
func TestLogUpgradesFormat1(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.db.Update(func(tx *bolt.Tx) error {
		v, _ := encodeElement(logElem(9, 9))
		if err := tx.Bucket(bucketElements).Put(elementKey("web.pool.example.", 9), v); err != nil {
			return err
		}
		return tx.Bucket(bucketMeta).Put(keyFormat, []byte("1"))
	}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = openTestStore(t, dir)
	sameLoads(t, "format 1 store", storedLoads(t, s), map[uint32]uint32{9: 9})
	s.db.View(func(tx *bolt.Tx) error {
		if f := string(tx.Bucket(bucketMeta).Get(keyFormat)); f != strconv.Itoa(Format) {
			t.Errorf("format %q after opening, want %d", f, Format)
		}
		return nil
	})
}

// The kill -9 test's child: TestLogKillChild, run as a process of its own
// by TestLogKill, writes until it is killed. It prints each batch before
// it commits it ("try N id:load id:- ...", a removal as "-") and "ack N"
// once Commit returned.
const killChildEnv = "POOLNSD_STORE_KILL_CHILD"

func TestLogKillChild(t *testing.T) {
	dir := os.Getenv(killChildEnv)
	if dir == "" {
		t.Skip("the child of TestLogKill")
	}
	s, err := OpenWith(dir, Options{LogCompact: 16 << 10}) // compactions all the time
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	out := bufio.NewWriter(os.Stdout)
	seed, _ := strconv.ParseUint(os.Getenv(killChildEnv+"_SEED"), 10, 64)
	rng := rand.New(rand.NewPCG(seed, 2))
	for i := uint32(1); i < 1<<30; i++ {
		var ws []Write
		line := fmt.Sprintf("try %d", i)
		for range 1 + rng.IntN(6) {
			id := uint32(1 + rng.IntN(2000))
			if rng.IntN(5) == 0 {
				ws = append(ws, Write{Pool: "web.pool.example.", ID: id})
				line += fmt.Sprintf(" %d:-", id)
				continue
			}
			ws = append(ws, Write{Pool: "web.pool.example.", Elem: logElem(id, i)})
			line += fmt.Sprintf(" %d:%d", id, i)
		}
		fmt.Fprintln(out, line)
		out.Flush()
		if err := s.Commit(ws); err != nil {
			fmt.Fprintln(out, "error", err)
			out.Flush()
			os.Exit(1)
		}
		fmt.Fprintf(out, "ack %d\n", i)
		out.Flush()
	}
}

// TestLogKill: a process that writes batches to a store and is killed
// with SIGKILL at a moment of the test's choosing (during appends and
// compactions, which run all the time at its LogCompact of 16 KiB) loses
// no batch it got acknowledged: the store reopens with exactly the
// acknowledged writes, or those and the batch in flight at the kill.
func TestLogKill(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	for round := range 5 {
		t.Run(fmt.Sprint(round), func(t *testing.T) {
			dir := t.TempDir()
			seed := uint64(time.Now().UnixNano())
			t.Logf("seed %d", seed)
			cmd := exec.Command(os.Args[0], "-test.run", "^TestLogKillChild$")
			cmd.Env = append(os.Environ(), killChildEnv+"="+dir, fmt.Sprintf("%s_SEED=%d", killChildEnv, seed))
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
			deadline := time.AfterFunc(2*time.Minute, func() { cmd.Process.Kill() })
			defer deadline.Stop()

			apply := func(ops []string, m map[uint32]uint32) {
				for _, f := range ops {
					id, v, _ := strings.Cut(f, ":")
					n, _ := strconv.ParseUint(id, 10, 32)
					if v == "-" {
						delete(m, uint32(n))
						continue
					}
					l, _ := strconv.ParseUint(v, 10, 32)
					m[uint32(n)] = uint32(l)
				}
			}
			want := map[uint32]uint32{} // the acknowledged writes, in order
			var inFlight []string       // the batch tried and not (yet) acknowledged
			acks, killed := 0, false
			// Killed when it has printed batch killAt: rounds 0, 2 and 4
			// as it begins to commit it ("try"), 1 and 3 just after it was
			// acknowledged.
			killAt, onTry := 200+250*round, round%2 == 0
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				f := strings.Fields(sc.Text())
				switch {
				case len(f) >= 2 && f[0] == "try":
					inFlight = f[2:]
					if onTry && f[1] == strconv.Itoa(killAt) && !killed {
						if err := cmd.Process.Kill(); err != nil { // SIGKILL
							t.Fatal(err)
						}
						killed = true
					}
				case len(f) == 2 && f[0] == "ack":
					apply(inFlight, want)
					inFlight = nil
					acks++
				case strings.HasPrefix(sc.Text(), "PASS"), strings.HasPrefix(sc.Text(), "ok"), strings.HasPrefix(sc.Text(), "---"), strings.HasPrefix(sc.Text(), "==="):
				default:
					t.Fatalf("child: %s", sc.Text())
				}
				if !onTry && acks == killAt && !killed {
					if err := cmd.Process.Kill(); err != nil { // SIGKILL
						t.Fatal(err)
					}
					killed = true
					// What it printed before it died is read on.
				}
			}
			cmd.Wait()
			if !killed {
				t.Fatalf("child stopped by itself after %d batches", acks)
			}
			s := openTestStore(t, dir)
			got := storedLoads(t, s)
			t.Logf("%d batches acknowledged, one in flight (%v); %d writes replayed at the reopen; %d elements",
				acks, inFlight != nil, s.LogStats().Replayed, len(got))
			with := map[uint32]uint32{}
			for id, v := range want {
				with[id] = v
			}
			apply(inFlight, with)
			if !sameMap(got, want) && !sameMap(got, with) {
				sameLoads(t, "after kill -9 (acknowledged batches)", got, want)
				sameLoads(t, "after kill -9 (and the batch in flight)", got, with)
			}
		})
	}
}

func sameMap(a, b map[uint32]uint32) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// TestRecordEncoder: a Commit's keys and records, encoded into one reused
// buffer, are elementKey's and encodeElement's byte for byte, batch after
// batch of the same encoder.
func TestRecordEncoder(t *testing.T) {
	two := logElem(7, 3)
	two.Addrs = two.Addrs.Append(netip.MustParseAddr("2001:db8::7"))
	two.Transport, two.Site, two.Expires = handlespace.TransportUDP, handlespace.SiteNameOf("ams <&>"), handlespace.ExpiryOf(time.Time{})
	batches := [][]Write{
		{{Pool: "Web.Pool.Example", Elem: logElem(1, 1)}, {Pool: "web.pool.example.", ID: 2}, {Pool: "web.pool.example.", Elem: two}},
		{{Pool: "web.pool.example.", Elem: logElem(3, 9)}},
		{{Pool: "other.example.", ID: 4}},
	}
	x := recordEncoders.Get().(*recordEncoder)
	defer x.put()
	for i, ops := range batches {
		got, err := x.encode(ops)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(ops) {
			t.Fatalf("batch %d: %d writes, want %d", i, len(got), len(ops))
		}
		for j, op := range ops {
			id, want := op.ID, []byte(nil)
			if op.Elem != nil {
				id = op.Elem.ID
				if want, err = encodeElement(op.Elem); err != nil {
					t.Fatal(err)
				}
			}
			if k := elementKey(normPool(op.Pool), id); !bytes.Equal(got[j].k, k) {
				t.Errorf("batch %d write %d: key %q, want %q", i, j, got[j].k, k)
			}
			if !bytes.Equal(got[j].v, want) || (want == nil) != (got[j].v == nil) {
				t.Errorf("batch %d write %d: record %q, want %q", i, j, got[j].v, want)
			}
		}
	}
}

// TestAppendRecord: appendRecord writes encodeElement's record (json.Marshal
// of the elementRecord) byte for byte, for elements with every field set
// at random (strings with characters to escape, addresses of both
// families and none, leases and times of any size), and appendPoolKey
// normPool's key.
func TestAppendRecord(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	str := func() string {
		if rng.IntN(3) == 0 {
			return ""
		}
		b := make([]byte, rng.IntN(10))
		for i := range b {
			b[i] = byte(rng.UintN(256))
			if rng.IntN(2) == 0 {
				b[i] = "aZ.-<>&\"\\\n\x00\x7f\u00c9\u2028"[rng.IntN(17)]
			}
		}
		return string(b)
	}
	u32 := func() uint32 {
		if rng.IntN(3) == 0 {
			return 0
		}
		return rng.Uint32() >> rng.UintN(32)
	}
	for i := range 20000 {
		e := &handlespace.Element{ID: rng.Uint32(), Label: handlespace.LabelOf(str()), Port: uint16(u32()), Weight: u32(), Priority: u32(),
			Load: u32(), LoadDeg: u32(), Site: handlespace.SiteNameOf(str()), Home: u32(), Owner: handlespace.OwnerOf(str()),
			Transport: handlespace.Transport(rng.IntN(4)), Lease: time.Duration(rng.Int64() >> rng.UintN(64))}
		for range rng.IntN(4) {
			var a netip.Addr
			switch rng.IntN(4) {
			case 0:
				a = netip.AddrFrom4([4]byte{byte(rng.Uint32()), byte(rng.Uint32()), byte(rng.Uint32()), byte(rng.Uint32())})
			case 1:
				var b [16]byte
				for j := range b {
					b[j] = byte(rng.UintN(3))
				}
				a = netip.AddrFrom16(b)
			case 2:
				a = netip.AddrFrom4([4]byte{192, 0, 2, byte(i)})
				a = netip.AddrFrom16(a.As16()) // ::ffff:192.0.2.x
			}
			e.Addrs = e.Addrs.Append(a) // case 3: the zero Addr
		}
		switch rng.IntN(3) {
		case 0:
			e.Expires = handlespace.ExpiryOf(time.Unix(rng.Int64N(1<<36)-1<<35, rng.Int64N(1e9)))
		case 1:
			e.Expires = handlespace.ExpiryOf(time.Now().Add(time.Duration(rng.Int64N(int64(time.Hour)))).Round(time.Duration(rng.Int64N(1e9) + 1)))
		}
		want, err := encodeElement(e)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendRecord([]byte("x"), e); string(got) != "x"+string(want) {
			t.Fatalf("element %d: appendRecord\n%s\nencodeElement\n%s", i, got[1:], want)
		}
		pool := str() + "." + str()
		if rng.IntN(2) == 0 {
			pool += "."
		}
		if got, want := string(appendPoolKey([]byte("x"), pool)), "x"+normPool(pool); got != want {
			t.Fatalf("appendPoolKey(%q) = %q, normPool %q", pool, got, want)
		}
	}
}
