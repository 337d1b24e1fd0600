package store

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/internal/jsonw"
	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// File is the name of the store's database file in its data directory.
const File = "poolnsd.db"

// Format is the version of the store's layout and record encoding that
// this code writes. Open refuses a store with a newer version and
// upgrades an older one. Format 2 is format 1 with the element log beside
// the database file (store_log.go): a poolnsd that knows only format 1
// would not read the log, so it must refuse the store.
const Format = 2

// storeLockTimeout is how long Open waits for another process to let go
// of the database file before it gives up.
const storeLockTimeout = time.Second

// Bucket and key names. See Store for the layout.
var (
	bucketMeta     = []byte("meta")
	bucketElements = []byte("elements")
	bucketAdmin    = []byte("admin")
	keyFormat      = []byte("format")
	keyRegistrarID = []byte("registrar_id")
)

// Store is the registrar's persistent state in a bbolt database: its
// identity and the pool elements registered with it, so that a restart
// serves the same handlespace at once. It is the only code that touches
// bbolt.
//
// # Basics
//
// Open opens (creating if needed) DIR/poolnsd.db. Element writes
// (Commit, PutElement, DeleteElement) go to the element log and return
// after the change is on disk (fsync), so a registration can be
// acknowledged once they return; the log is compacted into the database
// in the background (store_log.go documents the log's format). Every other
// method runs in one bbolt transaction (Update or View closure). A Store
// is safe for concurrent use.
//
// # Layout (format 2; format 1 had no element log and no log_applied)
//
// Bucket "meta":
//
//	format        decimal ASCII, the layout version (Format)
//	registrar_id  4 bytes big-endian, this registrar's ID: random, non-zero,
//	              made on the first open and kept forever
//	log_applied   8 bytes big-endian, the sequence number of the last batch
//	              of the element log that is in "elements"
//
// Bucket "elements", one key per registered (dynamic) pool element:
//
//	key    lower-case pool FQDN, a 0x00 byte, the element ID as 4 bytes
//	       big-endian (so keys sort by pool, then ID)
//	value  a JSON object, see elementRecord: {"v":1,"id":"0000abcd",
//	       "label":"pe1","addrs":["192.0.2.1"],"port":8080,...}
//
// Bucket "admin", one key per element (registered or from a zone file)
// whose administrative state is not auto, so that a drain outlives a
// restart (added within format 1: an older poolnsd ignores it):
//
//	key    as in "elements"
//	value  the state's name: "drain" or "force-down"
//
// Bucket "health", one key per element (registered or from a zone file)
// whose last known health is up or down, written in batches (PutHealth)
// so that a restart can serve what it last knew (added within format 1):
//
//	key    as in "elements"
//	value  "up" or "down"
//
// and in "meta", health_at: when the last batch was written (RFC 3339).
//
// # Caveats
//
// Only elements that registrations create belong here: zone files define
// the static ones. Health is stored apart from the elements, in batches:
// after a crash it may be a batch behind, and it is a hint to start from
// (the caller's probes replace it), never an acknowledged state. A lease
// end is stored as an absolute time, so an element whose lease ran out
// while the registrar was down is loaded with an expired lease and the
// caller should skip it. The database file is locked while
// open: a second process on the same data directory fails to open it.
type Store struct {
	path string
	db   *bolt.DB
	id   uint32
	log  *elog // the element log (store_log.go)

	closeOnce sync.Once
	closeErr  error
}

// Open opens the store in directory dir, creating the directory (mode
// 0700) and the database if they do not exist. Its errors are one line
// naming the path and the cause.
func Open(dir string) (*Store, error) { return OpenWith(dir, Options{}) }

// OpenWith is Open with options.
func OpenWith(dir string, o Options) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("data directory %s: cannot create: %v", dir, err)
	}
	if fi, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("data directory %s: %v", dir, err)
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("data directory %s: not a directory", dir)
	}
	path := filepath.Join(dir, File)
	db, err := openBolt(path, boltOptions())
	if err != nil {
		return nil, storeOpenError(path, err)
	}
	s := &Store{path: path, db: db}
	if err := s.init(); err != nil {
		db.Close()
		return nil, err
	}
	if err := s.openLog(o); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// openBolt opens the bbolt database, turning a panic on a damaged file
// into an error.
func openBolt(path string, o *bolt.Options) (db *bolt.DB, err error) {
	defer func() {
		if r := recover(); r != nil {
			db, err = nil, fmt.Errorf("%w (%v)", berrors.ErrInvalid, r)
		}
	}()
	return bolt.Open(path, 0o600, o)
}

// boltOptions are the options the store opens bbolt with.
var boltOptions = func() *bolt.Options {
	return &bolt.Options{Timeout: storeLockTimeout}
}

// storeOpenError says in one line why the database file could not be opened.
func storeOpenError(path string, err error) error {
	var pe *fs.PathError
	switch {
	case errors.Is(err, berrors.ErrTimeout):
		return fmt.Errorf("%s: locked by another process (is another poolnsd using this data directory?)", path)
	case errors.Is(err, berrors.ErrInvalid), errors.Is(err, berrors.ErrChecksum),
		errors.Is(err, berrors.ErrVersionMismatch), errors.Is(err, berrors.ErrInvalidMapping):
		return fmt.Errorf("%s: not a poolnsd store or corrupt (%v); move it away to start afresh", path, err)
	case errors.As(err, &pe):
		return fmt.Errorf("%s: cannot open: %v", path, pe.Err)
	}
	return fmt.Errorf("%s: cannot open: %v", path, err)
}

// init checks the meta bucket, creating it (and the registrar ID) on the
// first open.
func (s *Store) init() error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if meta == nil {
			empty := true
			_ = tx.ForEach(func([]byte, *bolt.Bucket) error { empty = false; return nil })
			if !empty {
				return fmt.Errorf("not a poolnsd store (a bbolt database without poolnsd's %q bucket); move it away to start afresh", bucketMeta)
			}
			var err error
			if meta, err = tx.CreateBucket(bucketMeta); err != nil {
				return err
			}
			if err := meta.Put(keyFormat, []byte(strconv.Itoa(Format))); err != nil {
				return err
			}
		}
		f, err := strconv.Atoi(string(meta.Get(keyFormat)))
		if err != nil || f < 1 {
			return fmt.Errorf("not a poolnsd store or corrupt (bad format version %q); move it away to start afresh", meta.Get(keyFormat))
		}
		if f > Format {
			return fmt.Errorf("store format %d is newer than this poolnsd reads (%d); use a newer poolnsd", f, Format)
		}
		if f < Format {
			if err := meta.Put(keyFormat, []byte(strconv.Itoa(Format))); err != nil {
				return err
			}
		}
		if _, err := tx.CreateBucketIfNotExists(bucketElements); err != nil {
			return err
		}
		if _, err := tx.CreateBucketIfNotExists(bucketAdmin); err != nil {
			return err
		}
		if _, err := tx.CreateBucketIfNotExists(bucketHealth); err != nil {
			return err
		}
		if v := meta.Get(keyRegistrarID); v != nil {
			if len(v) != 4 || binary.BigEndian.Uint32(v) == 0 {
				return fmt.Errorf("not a poolnsd store or corrupt (bad registrar ID %x); move it away to start afresh", v)
			}
			s.id = binary.BigEndian.Uint32(v)
			return nil
		}
		id, err := newRegistrarID()
		if err != nil {
			return err
		}
		if err := meta.Put(keyRegistrarID, binary.BigEndian.AppendUint32(nil, id)); err != nil {
			return err
		}
		s.id = id
		return nil
	})
	if err != nil {
		return fmt.Errorf("%s: %v", s.path, err)
	}
	return nil
}

// newRegistrarID returns a random non-zero 32-bit ID.
func newRegistrarID() (uint32, error) {
	var b [4]byte
	for {
		if _, err := rand.Read(b[:]); err != nil {
			return 0, fmt.Errorf("cannot make a registrar ID: %v", err)
		}
		if id := binary.BigEndian.Uint32(b[:]); id != 0 {
			return id, nil
		}
	}
}

// RegistrarID returns this registrar's ID, made on the store's first open.
func (s *Store) RegistrarID() uint32 { return s.id }

// elementRecord is the JSON encoding of a registered element (format 1).
// Absent fields are zero.
type elementRecord struct {
	V         int      `json:"v"`                   // record version, 1
	ID        string   `json:"id"`                  // handlespace.IDString, eight hex digits
	Label     string   `json:"label"`               // first label of the element's own name
	Addrs     []string `json:"addrs"`               // IPv4 and IPv6 addresses
	Port      uint16   `json:"port"`                //
	Transport string   `json:"transport,omitempty"` // tcp (default), udp, sctp
	Weight    uint32   `json:"weight,omitempty"`
	Priority  uint32   `json:"priority,omitempty"`
	Load      uint32   `json:"load,omitempty"`    // RFC 5356 scale, 0..0xFFFFFFFF
	LoadDeg   uint32   `json:"loaddeg,omitempty"` // RFC 5356 scale
	Site      string   `json:"site,omitempty"`
	Expires   string   `json:"expires,omitempty"` // RFC 3339 with nanoseconds, UTC; absent: no lease
	Home      uint32   `json:"home,omitempty"`    // home registrar ID
	Owner     string   `json:"owner,omitempty"`   // who registered it: tsig:KEYNAME or http
	Lease     int64    `json:"lease_s,omitempty"` // the granted lease, seconds
}

const elementRecordVersion = 1

func encodeElement(e *handlespace.Element) ([]byte, error) {
	var r elementRecord
	r.set(e, nil)
	return json.Marshal(r)
}

// set makes r e's record, its addresses appended to addrs[:0].
func (r *elementRecord) set(e *handlespace.Element, addrs []string) {
	*r = elementRecord{
		V: elementRecordVersion, ID: handlespace.IDString(e.ID), Label: e.Label.String(), Port: e.Port,
		Weight: e.Weight, Priority: e.Priority, Load: e.Load, LoadDeg: e.LoadDeg,
		Site: e.Site.String(), Home: e.Home, Owner: e.Owner.String(), Lease: int64(e.Lease / time.Second),
	}
	if e.Transport != handlespace.TransportTCP {
		r.Transport = e.Transport.String()
	}
	r.Addrs = addrs[:0]
	if r.Addrs == nil {
		r.Addrs = make([]string, 0, e.Addrs.Len())
	}
	for _, a := range e.Addrs.All() {
		r.Addrs = append(r.Addrs, a.String())
	}
	if !e.Expires.Time().IsZero() {
		r.Expires = e.Expires.Time().UTC().Format(time.RFC3339Nano)
	}
}

// recordEncoder encodes a Commit's records and keys into one buffer,
// which a pool keeps between Commits: encodeElement's record, its boxing
// and json.Marshal's result, and a key, were garbage of every
// registration (bench/RESULTS.md, gc10). The records are encodeElement's,
// byte for byte, written field by field (appendRecord): encoding/json's
// reflection was most of a Commit's own CPU (bench/RESULTS.md, reg11).
type recordEncoder struct {
	buf   []byte
	spans []recordSpan
	kvs   []kv
}

// recordSpan is where a key and its record (none: a delete) lie in buf.
type recordSpan struct{ k, v, end int }

var recordEncoders = sync.Pool{New: func() any { return new(recordEncoder) }}

// recordKeep is the largest buffer a recordEncoder keeps for the next
// Commit.
const recordKeep = 256 << 10

// encode returns the log's writes of ops, which lie in x's buffers
// until x is used again.
func (x *recordEncoder) encode(ops []Write) ([]kv, error) {
	b := x.buf[:0]
	x.spans = x.spans[:0]
	for _, op := range ops {
		k := len(b)
		id := op.ID
		if op.Elem != nil {
			id = op.Elem.ID
		}
		b = appendPoolKey(b, op.Pool)
		b = append(b, 0)
		b = binary.BigEndian.AppendUint32(b, id)
		sp := recordSpan{k: k, v: len(b), end: -1}
		if op.Elem != nil {
			b = appendRecord(b, op.Elem)
			sp.end = len(b)
		}
		x.spans = append(x.spans, sp)
	}
	x.buf = b
	x.kvs = x.kvs[:0]
	for _, sp := range x.spans {
		w := kv{k: b[sp.k:sp.v:sp.v]}
		if sp.end >= 0 {
			w.v = b[sp.v:sp.end:sp.end]
		}
		x.kvs = append(x.kvs, w)
	}
	return x.kvs, nil
}

// put hands x back to the pool; nothing of what it encoded may be used
// after.
func (x *recordEncoder) put() {
	if cap(x.buf) <= recordKeep && cap(x.kvs) <= recordKeep/64 {
		recordEncoders.Put(x)
	}
}

// appendPoolKey appends normPool(pool) without making the string.
func appendPoolKey(b []byte, pool string) []byte {
	n := len(b)
	b = append(b, pool...)
	for i := n; i < len(b); i++ {
		if c := b[i]; 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		} else if c >= utf8.RuneSelf { // strings.ToLower's Unicode cases
			return append(b[:n], normPool(pool)...)
		}
	}
	if !strings.HasSuffix(pool, ".") {
		b = append(b, '.')
	}
	return b
}

// appendRecord appends e's record as encodeElement writes it
// (json.Marshal of its elementRecord), field by field in the struct's
// order; TestAppendRecord compares the two.
func appendRecord(b []byte, e *handlespace.Element) []byte {
	b = append(b, `{"v":`...)
	b = strconv.AppendInt(b, elementRecordVersion, 10)
	b = append(b, `,"id":"`...)
	b = appendID(b, e.ID)
	b = append(b, `","label":`...)
	b = jsonw.String(b, e.Label.String())
	b = append(b, `,"addrs":[`...)
	var tmp [64]byte
	for i, a := range e.Addrs.All() {
		if i > 0 {
			b = append(b, ',')
		}
		if !a.IsValid() {
			b = jsonw.String(b, a.String()) // "invalid IP"; AppendTo writes nothing
			continue
		}
		b = jsonw.String(b, a.AppendTo(tmp[:0]))
	}
	b = append(b, `],"port":`...)
	b = strconv.AppendUint(b, uint64(e.Port), 10)
	if e.Transport != handlespace.TransportTCP {
		b = append(b, `,"transport":`...)
		b = jsonw.String(b, e.Transport.String())
	}
	for _, f := range [...]struct {
		name string
		v    uint32
	}{{`,"weight":`, e.Weight}, {`,"priority":`, e.Priority}, {`,"load":`, e.Load}, {`,"loaddeg":`, e.LoadDeg}} {
		if f.v != 0 {
			b = append(b, f.name...)
			b = strconv.AppendUint(b, uint64(f.v), 10)
		}
	}
	if e.Site.String() != "" {
		b = append(b, `,"site":`...)
		b = jsonw.String(b, e.Site.String())
	}
	if !e.Expires.Time().IsZero() {
		// RFC 3339's characters need no escape.
		b = append(b, `,"expires":"`...)
		b = e.Expires.Time().UTC().AppendFormat(b, time.RFC3339Nano)
		b = append(b, '"')
	}
	if e.Home != 0 {
		b = append(b, `,"home":`...)
		b = strconv.AppendUint(b, uint64(e.Home), 10)
	}
	if e.Owner != 0 {
		b = append(b, `,"owner":`...)
		b = jsonw.String(b, e.Owner.String())
	}
	if l := int64(e.Lease / time.Second); l != 0 {
		b = append(b, `,"lease_s":`...)
		b = strconv.AppendInt(b, l, 10)
	}
	return append(b, '}')
}

// appendID appends handlespace.IDString(id): eight lower-case hex digits.
func appendID(b []byte, id uint32) []byte {
	const hex = "0123456789abcdef"
	for s := 28; s >= 0; s -= 4 {
		b = append(b, hex[id>>uint(s)&0xF])
	}
	return b
}

func decodeElement(b []byte) (*handlespace.Element, error) {
	var r elementRecord
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, err
	}
	if r.V != elementRecordVersion {
		return nil, fmt.Errorf("record version %d, want %d", r.V, elementRecordVersion)
	}
	id, err := handlespace.ParseID(r.ID)
	if err != nil {
		return nil, err
	}
	e := &handlespace.Element{ID: id, Label: handlespace.LabelOf(r.Label), Port: r.Port, Weight: r.Weight, Priority: r.Priority,
		Load: r.Load, LoadDeg: r.LoadDeg, Site: handlespace.SiteNameOf(r.Site), Home: r.Home, Owner: handlespace.OwnerOf(r.Owner),
		Lease: time.Duration(r.Lease) * time.Second}
	if r.Transport != "" {
		if e.Transport, err = handlespace.ParseTransport(r.Transport); err != nil {
			return nil, err
		}
	}
	var addrs [4]netip.Addr
	as := addrs[:0]
	for _, s := range r.Addrs {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, err
		}
		as = append(as, a)
	}
	e.Addrs = handlespace.AddrsOf(as...)
	if r.Expires != "" {
		exp, err := time.Parse(time.RFC3339Nano, r.Expires)
		if err != nil {
			return nil, err
		}
		e.Expires = handlespace.ExpiryOf(exp)
	}
	return e, nil
}

// elementKey is pool, 0x00, id (4 bytes big-endian).
func elementKey(pool string, id uint32) []byte {
	k := make([]byte, 0, len(pool)+5)
	k = append(k, pool...)
	k = append(k, 0)
	return binary.BigEndian.AppendUint32(k, id)
}

func splitElementKey(k []byte) (pool string, id uint32, ok bool) {
	if len(k) < 5 || k[len(k)-5] != 0 {
		return "", 0, false
	}
	return string(k[:len(k)-5]), binary.BigEndian.Uint32(k[len(k)-4:]), true
}

// normPool is how pool names are keyed: lower-case FQDN.
func normPool(pool string) string {
	if !strings.HasSuffix(pool, ".") {
		pool += "."
	}
	return strings.ToLower(pool)
}

// PutElement stores (or replaces) the registered element e of pool. It
// returns once the change is on disk.
func (s *Store) PutElement(pool string, e *handlespace.Element) error {
	return s.Commit([]Write{{Pool: pool, Elem: e}})
}

// DeleteElement removes element id of pool, and its administrative state
// and last known health. Removing an element that is not stored is not an
// error. It returns once the change is on disk.
func (s *Store) DeleteElement(pool string, id uint32) error {
	return s.Commit([]Write{{Pool: pool, ID: id}})
}

// Elements calls f for every stored element, sorted by pool then ID, and
// stops at the first error f returns. f runs outside the store's
// transaction, so it may call the store's other methods. An undecodable
// record is an error naming it. It first moves the element log into the
// database file.
func (s *Store) Elements(f func(pool string, e *handlespace.Element) error) error {
	if err := s.flushLog(); err != nil {
		return err
	}
	type item struct {
		pool string
		e    *handlespace.Element
	}
	var items []item
	// The pool names that many elements share are kept once (owners and
	// sites are numbers already), not once per element, which the garbage
	// collector would otherwise visit on every cycle.
	shared := map[string]string{}
	intern := func(s string) string {
		if s == "" {
			return s
		}
		if c, ok := shared[s]; ok {
			return c
		}
		if len(shared) < maxInterned {
			shared[s] = s
		}
		return s
	}
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketElements).ForEach(func(k, v []byte) error {
			pool, id, ok := splitElementKey(k)
			pool = intern(pool)
			if !ok {
				return fmt.Errorf("%s: bad element key %q; move the store away to start afresh", s.path, k)
			}
			e, err := decodeElement(v)
			if err != nil {
				return fmt.Errorf("%s: element %s of %s: bad record: %v; move the store away to start afresh", s.path, handlespace.IDString(id), pool, err)
			}
			if e.ID != id {
				return fmt.Errorf("%s: element %s of %s: record says ID %s; move the store away to start afresh", s.path, handlespace.IDString(id), pool, handlespace.IDString(e.ID))
			}
			items = append(items, item{pool, e})
			return nil
		})
	})
	if err != nil {
		return err
	}
	for _, it := range items {
		if err := f(it.pool, it.e); err != nil {
			return err
		}
	}
	return nil
}

// maxInterned bounds the strings Elements shares (pools, owners, sites).
const maxInterned = 1 << 16

// Close closes the database. Closing twice is not an error.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		if err := s.closeLog(); err != nil {
			s.closeErr = fmt.Errorf("%s: close the element log: %v", s.path, err)
		}
		if err := s.db.Close(); err != nil && s.closeErr == nil {
			s.closeErr = fmt.Errorf("%s: close: %v", s.path, err)
		}
	})
	return s.closeErr
}
