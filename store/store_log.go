package store

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The element log: Commit appends its writes to a log file and syncs it,
// one write and one fdatasync per batch whatever the size of the store;
// a background compaction moves the log into the bbolt file in large
// transactions, sorted by key, and removes it. (A bbolt transaction of a
// few writes into a tree of a million keys rewrites a leaf and its
// branch pages for each write, each page its own pwrite and disk request,
// and syncs twice: about 2.5 times the pages per write of a store of a
// thousand, which made the commit the part of a registration that grew
// with the pool; issue 13 part 3.)
//
// Files: DIR/poolnsd.log.NNNNNNNNNN, segments numbered from 1. Commit
// appends to the newest; when it holds Options.LogCompact bytes a new one
// is begun and the compactor moves the older ones into bbolt, sets
// meta/log_applied to the sequence number of the last batch it moved (in
// the same transaction as the batch's writes), and removes them.
//
// A segment is a series of batches:
//
//	u32 length of payload (big-endian; 0: end of the segment)
//	u32 CRC-32C of payload
//	payload:
//	  u64 sequence number of the batch (from 1, rising)
//	  uvarint count of writes, then per write:
//	    u8 kind (1 put, 2 delete)
//	    uvarint key length, key   (the "elements" key: pool, 0x00, ID)
//	    put only: uvarint value length, value (the element's record)
//
// A batch is one Commit: it is all applied or not at all. Reading a
// segment stops at its first batch that is short or fails its checksum (a
// write that a crash cut: it was never acknowledged); each Open begins a
// new segment, so nothing is ever appended after such a tail.
//
// Open replays the batches numbered after log_applied into bbolt before it
// returns, so Elements, Admins and Healths read bbolt as before.

const (
	logPrefix   = "poolnsd.log."
	logPutOp    = 1
	logDeleteOp = 2
	// logChunk is the most writes of one compaction transaction: the
	// transaction's dirty pages are in memory until it commits, and its
	// commit (a pwrite per page) does not yield the CPU. The writes are
	// sorted, so a chunk covers a range of keys and smaller chunks rewrite
	// no more leaves, only a few more branch pages and syncs.
	logChunk = 1 << 12
	// logYield is how many writes a compaction applies between two pauses
	// of a microsecond, which let the goroutines that the network poller
	// has woken (the DNS loop) run: with GOMAXPROCS=1 a busy goroutine
	// otherwise holds the CPU until it is preempted, 10 ms.
	logYield = 512
	// logGroup bounds the log bytes one compaction pass reads into memory
	// (as multiples of Options.LogCompact).
	logGroup = 4
	// logFill is how full the compaction leaves a page it splits. bbolt's
	// default, half, suits random inserts; the store's keys are mostly
	// rewritten in place, and a page split half full stays so, which
	// doubles the pages a compaction rewrites. A little room is left for
	// records that grow.
	logFill = 0.9
)

// DefaultLogCompact is the default of Options.LogCompact: 32 MiB, about
// 150 000 registrations.
const DefaultLogCompact = 32 << 20

var keyLogApplied = []byte("log_applied")

// errClosing ends a compaction cut short by Close.
var errClosing = errors.New("closing")

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// Options are the tunables of a store. Zero values have defaults.
type Options struct {
	// LogCompact is the size in bytes at which the element log begins a
	// new segment and the older ones are compacted into the bbolt file
	// (default DefaultLogCompact). Larger: fewer compactions, each
	// rewriting a larger share of the store's pages once for more writes;
	// more to replay at the start after a crash.
	LogCompact int64
	// Logger gets a line per failed compaction (error; the log grows on
	// and the next compaction tries again) and per compaction done (debug);
	// default: none.
	Logger *slog.Logger
}

// LogStats are counters of the element log.
type LogStats struct {
	Batches     uint64 // batches appended since Open
	Bytes       int64  // bytes in the log now (all segments)
	Segments    int    // segment files now
	Compactions uint64 // compaction passes finished since Open
	Compacted   uint64 // writes moved into bbolt since Open (before dropping the superseded)
	Replayed    uint64 // writes replayed at Open
	LastError   string // the last compaction's error, "" if it succeeded
}

// elog is the element log of a Store.
type elog struct {
	dir     string
	compact int64
	log     *slog.Logger

	mu    sync.Mutex // guards the fields below, and orders appends
	f     *os.File   // the newest segment
	seg   uint64     // its number
	size  int64      // its length
	seq   uint64     // the last batch's sequence number
	older int64      // bytes of the segments before seg
	aio   *aioSyncer // syncs the segment without holding a P; nil: fdatasync
	buf   []byte     // appendBatch's, reused

	cmu sync.Mutex // one compaction at a time

	kick chan struct{}
	stop chan struct{}
	done chan struct{}

	batches, compactions, compacted, replayed atomic.Uint64
	lastErr                                   atomic.Pointer[string]
}

// logBufKeep is the largest batch buffer the log keeps for the next batch.
const logBufKeep = 256 << 10

// segName is segment n's file name.
func segName(n uint64) string { return fmt.Sprintf("%s%010d", logPrefix, n) }

// segments lists the segment numbers in dir, ascending.
func segments(dir string) ([]uint64, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var ns []uint64
	for _, e := range ents {
		rest, ok := strings.CutPrefix(e.Name(), logPrefix)
		if !ok {
			continue
		}
		n, err := strconv.ParseUint(rest, 10, 64)
		if err != nil || n == 0 {
			continue
		}
		ns = append(ns, n)
	}
	slices.Sort(ns)
	return ns, nil
}

// openLog replays the log found in s's directory into bbolt, removes it,
// begins a new segment and starts the compactor.
func (s *Store) openLog(o Options) error {
	if o.LogCompact <= 0 {
		o.LogCompact = DefaultLogCompact
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	l := &elog{dir: filepath.Dir(s.path), compact: o.LogCompact, log: o.Logger,
		kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	s.log = l
	segs, err := segments(l.dir)
	if err != nil {
		return fmt.Errorf("%s: %v", l.dir, err)
	}
	var last uint64
	if len(segs) > 0 {
		last = segs[len(segs)-1]
		n, seq, err := s.compactSegments(segs, true)
		if err != nil {
			return err
		}
		l.replayed.Store(n)
		l.seq = seq
	}
	if l.seq == 0 {
		if err := s.db.View(func(tx *bolt.Tx) error {
			l.seq = appliedSeq(tx)
			return nil
		}); err != nil {
			return err
		}
	}
	if err := l.begin(last + 1); err != nil {
		return fmt.Errorf("%s: %v", l.dir, err)
	}
	l.aio = newAIOSyncer()
	go s.compactor()
	return nil
}

func appliedSeq(tx *bolt.Tx) uint64 {
	if v := tx.Bucket(bucketMeta).Get(keyLogApplied); len(v) == 8 {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}

// begin makes segment n the one appended to (l.mu held or not yet
// shared). The directory is synced, so that the file outlives a crash.
func (l *elog) begin(n uint64) error {
	f, err := os.OpenFile(filepath.Join(l.dir, segName(n)), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if err := syncDir(l.dir); err != nil {
		f.Close()
		os.Remove(f.Name())
		return err
	}
	if l.f != nil {
		l.f.Close()
		l.older += l.size
	}
	l.f, l.seg, l.size = f, n, 0
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// appendBatch writes one batch of encoded writes to the log and syncs it.
// On error the batch is not in the log (what was written of it is cut
// off, and the log goes on in a new segment).
func (l *elog) appendBatch(enc []kv) error {
	n := 8 + 8 + binary.MaxVarintLen64
	for _, e := range enc {
		n += 1 + 2*binary.MaxVarintLen64 + len(e.k) + len(e.v)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return errors.New("log closed")
	}
	// The batch is built in the log's buffer (under l.mu, and written
	// before the lock goes): one made per batch was garbage of every
	// commit. A large one is not kept.
	if cap(l.buf) < n {
		l.buf = make([]byte, 0, n)
	}
	buf := l.buf[:8]
	defer func() {
		if cap(l.buf) > logBufKeep {
			l.buf = nil
		}
	}()
	seq := l.seq + 1
	buf = binary.BigEndian.AppendUint64(buf, seq)
	buf = binary.AppendUvarint(buf, uint64(len(enc)))
	for _, e := range enc {
		if e.v == nil {
			buf = append(buf, logDeleteOp)
			buf = binary.AppendUvarint(buf, uint64(len(e.k)))
			buf = append(buf, e.k...)
			continue
		}
		buf = append(buf, logPutOp)
		buf = binary.AppendUvarint(buf, uint64(len(e.k)))
		buf = append(buf, e.k...)
		buf = binary.AppendUvarint(buf, uint64(len(e.v)))
		buf = append(buf, e.v...)
	}
	binary.BigEndian.PutUint32(buf[0:4], uint32(len(buf)-8))
	binary.BigEndian.PutUint32(buf[4:8], crc32.Checksum(buf[8:], crcTable))
	off := l.size
	_, err := l.f.WriteAt(buf, off)
	if err == nil {
		err = l.sync()
	}
	if err != nil {
		// Cut off what may have been written and go on in a new segment:
		// a batch that failed must not come back at the next start.
		if l.f.Truncate(off) == nil && fdatasync(l.f) == nil {
			if berr := l.begin(l.seg + 1); berr != nil {
				err = fmt.Errorf("%v; and the next log segment: %v", err, berr)
			}
		} else {
			err = fmt.Errorf("%v; and the failed write could not be cut off the log, which is closed", err)
			l.f.Close()
			l.f = nil
		}
		return err
	}
	l.seq = seq
	l.size += int64(len(buf))
	l.batches.Add(1)
	if l.size >= l.compact {
		if err := l.begin(l.seg + 1); err == nil {
			select {
			case l.kick <- struct{}{}:
			default:
			}
		}
		// On error the segment grows on; the next batch tries again.
	}
	return nil
}

// sync flushes the newest segment (l.mu held): through the AIO syncer
// where there is one, so that the commit's goroutine waits without holding
// the scheduler's P (see aiosync_linux.go), else with fdatasync.
func (l *elog) sync() error {
	if l.aio != nil {
		err := l.aio.sync(l.f)
		if !errors.Is(err, errNoAIOSync) {
			return err
		}
		l.aio.close()
		l.aio = nil
	}
	return fdatasync(l.f)
}

// rotate begins a new segment if the newest holds anything, and returns
// the newest segment's number: every batch appended so far is in a
// segment before it.
func (l *elog) rotate() (uint64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return 0, errors.New("log closed")
	}
	if l.size > 0 {
		if err := l.begin(l.seg + 1); err != nil {
			return 0, err
		}
	}
	return l.seg, nil
}

// compactor compacts the older segments whenever appendBatch begins a new
// one.
func (s *Store) compactor() {
	l := s.log
	defer close(l.done)
	for {
		select {
		case <-l.stop:
			return
		case <-l.kick:
		}
		l.mu.Lock()
		cur := l.seg
		l.mu.Unlock()
		t0, n0 := time.Now(), l.compacted.Load()
		if err := s.compactBefore(cur); err != nil {
			if errors.Is(err, errClosing) {
				return
			}
			msg := err.Error()
			l.lastErr.Store(&msg)
			l.log.Error("store: element log not compacted; it grows until a compaction succeeds", "err", msg)
		} else {
			l.lastErr.Store(nil)
			l.log.Debug("store: element log compacted", "writes", l.compacted.Load()-n0, "took", time.Since(t0).String())
		}
	}
}

// Compact moves everything in the element log into the database file
// now, and returns once it is there. (The log is compacted in the
// background as it grows; Compact is for a tool that fills a store and
// wants the next Open to find nothing to replay.)
func (s *Store) Compact() error { return s.flushLog() }

// flushLog moves everything appended so far into bbolt.
func (s *Store) flushLog() error {
	cur, err := s.log.rotate()
	if err != nil {
		return fmt.Errorf("%s: %v", s.log.dir, err)
	}
	return s.compactBefore(cur)
}

// compactBefore compacts the segments numbered below cur.
func (s *Store) compactBefore(cur uint64) error {
	l := s.log
	l.cmu.Lock()
	defer l.cmu.Unlock()
	segs, err := segments(l.dir)
	if err != nil {
		return fmt.Errorf("%s: %v", l.dir, err)
	}
	segs = slices.DeleteFunc(segs, func(n uint64) bool { return n >= cur })
	if len(segs) == 0 {
		return nil
	}
	_, _, err = s.compactSegments(segs, false)
	return err
}

// logWrite is one write read back from the log: offsets into the bytes of
// the segments read (no pointers, so that a pass over a large log gives the
// garbage collector nothing to scan).
type logWrite struct {
	seq        uint64
	koff, voff uint32
	klen, vlen uint32
	del        bool
}

// compactSegments moves the batches of segments segs (ascending; with
// l.cmu held, or at Open) that are numbered after log_applied into bbolt
// and removes the segment files. In groups of segments of at most
// logGroup × LogCompact bytes, each group's writes sorted by key, the last
// write of each key applied, in transactions of logChunk writes, the last of
// them setting log_applied. A write replayed twice (after a crash during a
// compaction) has the same effect, so a cut pass is simply done again.
// At Open (replay), it also removes the administrative state and health
// of the elements whose last write is a removal, and returns the writes
// replayed and the last sequence number seen.
func (s *Store) compactSegments(segs []uint64, replay bool) (uint64, uint64, error) {
	l := s.log
	var applied uint64
	if err := s.db.View(func(tx *bolt.Tx) error { applied = appliedSeq(tx); return nil }); err != nil {
		return 0, 0, fmt.Errorf("%s: %v", s.path, err)
	}
	var n, lastSeq uint64
	for len(segs) > 0 {
		// The group: its bytes are read into one buffer.
		k, size := 0, int64(0)
		for ; k < len(segs) && (k == 0 || size < logGroup*l.compact); k++ {
			if fi, err := os.Stat(filepath.Join(l.dir, segName(segs[k]))); err == nil {
				size += fi.Size()
			}
		}
		data := make([]byte, 0, size)
		var ws []logWrite
		for _, seg := range segs[:k] {
			path := filepath.Join(l.dir, segName(seg))
			var err error
			data, ws, err = readSegment(path, data, ws, applied)
			if err != nil {
				return n, lastSeq, fmt.Errorf("%s: %v", path, err)
			}
		}
		if len(ws) > 0 {
			lastSeq = max(lastSeq, ws[len(ws)-1].seq)
			if err := s.applyLog(data, ws, replay); err != nil {
				return n, lastSeq, err
			}
			n += uint64(len(ws))
			applied = max(applied, lastSeq)
		}
		for _, seg := range segs[:k] {
			path := filepath.Join(l.dir, segName(seg))
			fi, err := os.Stat(path)
			if err := os.Remove(path); err != nil {
				return n, lastSeq, fmt.Errorf("%s: %v", path, err)
			}
			if err == nil && !replay {
				l.mu.Lock()
				l.older -= fi.Size()
				l.mu.Unlock()
			}
		}
		if err := syncDir(l.dir); err != nil {
			return n, lastSeq, fmt.Errorf("%s: %v", l.dir, err)
		}
		segs = segs[k:]
	}
	if !replay {
		l.compactions.Add(1)
		l.compacted.Add(n)
	}
	return n, lastSeq, nil
}

// readSegment appends the writes of the batches of the segment at path
// numbered after applied to ws, their bytes to data.
func readSegment(path string, data []byte, ws []logWrite, applied uint64) ([]byte, []logWrite, error) {
	f, err := os.Open(path)
	if err != nil {
		return data, ws, err
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<16)
	var hdr [8]byte
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return data, ws, nil // the end, or a cut header
		}
		size := binary.BigEndian.Uint32(hdr[0:4])
		if size == 0 || size > 1<<30 {
			return data, ws, nil
		}
		start := len(data)
		if uint64(start)+uint64(size) > 1<<32-1 {
			return data, ws, errors.New("log pass too large")
		}
		data = slices.Grow(data, int(size))[:start+int(size)]
		p := data[start:]
		if _, err := io.ReadFull(r, p); err != nil || crc32.Checksum(p, crcTable) != binary.BigEndian.Uint32(hdr[4:8]) {
			return data[:start], ws, nil // a batch that a crash cut: never acknowledged
		}
		bw, err := parseBatch(p, uint32(start))
		if err != nil {
			return data[:start], ws, fmt.Errorf("batch at offset %d: %v", start, err)
		}
		if len(bw) == 0 || bw[0].seq <= applied {
			data = data[:start]
			continue
		}
		ws = append(ws, bw...)
	}
}

// parseBatch decodes a batch's payload p, which begins at offset base of
// the pass's bytes.
func parseBatch(p []byte, base uint32) ([]logWrite, error) {
	if len(p) < 8 {
		return nil, errors.New("short batch")
	}
	seq := binary.BigEndian.Uint64(p)
	i := 8
	uv := func() (uint64, bool) {
		v, n := binary.Uvarint(p[i:])
		if n <= 0 {
			return 0, false
		}
		i += n
		return v, true
	}
	cnt, ok := uv()
	if !ok || cnt > uint64(len(p)) {
		return nil, errors.New("bad count")
	}
	ws := make([]logWrite, 0, cnt)
	for range cnt {
		if i >= len(p) {
			return nil, errors.New("short batch")
		}
		kind := p[i]
		i++
		kl, ok := uv()
		if !ok || kl > uint64(len(p)-i) {
			return nil, errors.New("bad key")
		}
		w := logWrite{seq: seq, koff: base + uint32(i), klen: uint32(kl)}
		i += int(kl)
		switch kind {
		case logDeleteOp:
			w.del = true
		case logPutOp:
			vl, ok := uv()
			if !ok || vl > uint64(len(p)-i) {
				return nil, errors.New("bad value")
			}
			w.voff, w.vlen = base+uint32(i), uint32(vl)
			i += int(vl)
		default:
			return nil, fmt.Errorf("bad write kind %d", kind)
		}
		ws = append(ws, w)
	}
	if i != len(p) {
		return nil, errors.New("trailing bytes")
	}
	return ws, nil
}

// applyLog writes the last write of each key of ws into bbolt.
func (s *Store) applyLog(data []byte, ws []logWrite, replay bool) error {
	last := ws[len(ws)-1].seq
	key := func(w *logWrite) []byte { return data[w.koff : w.koff+w.klen] }
	// Sorted by key; a key's writes keep their order, so its last write
	// is the last of its run.
	sort.SliceStable(ws, func(i, j int) bool { return bytes.Compare(key(&ws[i]), key(&ws[j])) < 0 })
	uniq := ws[:0]
	for i := range ws {
		if i+1 < len(ws) && bytes.Equal(key(&ws[i]), key(&ws[i+1])) {
			continue
		}
		uniq = append(uniq, ws[i])
	}
	for start := 0; start < len(uniq); start += logChunk {
		if !replay {
			select {
			case <-s.log.stop:
				// Closing: the log stays and is replayed at the next Open.
				return errClosing
			default:
			}
		}
		chunk := uniq[start:min(start+logChunk, len(uniq))]
		final := start+logChunk >= len(uniq)
		err := s.db.Update(func(tx *bolt.Tx) error {
			b, adm, hb := tx.Bucket(bucketElements), tx.Bucket(bucketAdmin), tx.Bucket(bucketHealth)
			b.FillPercent = logFill
			for i := range chunk {
				if i > 0 && i%logYield == 0 && !replay {
					time.Sleep(time.Microsecond)
				}
				w := &chunk[i]
				k := key(w)
				var err error
				if w.del {
					err = b.Delete(k)
					if err == nil && replay {
						// Commit removed these after the log write; a crash
						// may have come between.
						if err = adm.Delete(k); err == nil {
							err = hb.Delete(k)
						}
					}
				} else {
					err = b.Put(k, data[w.voff:w.voff+w.vlen])
				}
				if err != nil {
					return err
				}
			}
			if final {
				return tx.Bucket(bucketMeta).Put(keyLogApplied, binary.BigEndian.AppendUint64(nil, last))
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("%s: compact the element log: %v", s.path, err)
		}
	}
	return nil
}

// closeLog stops the compactor (a compaction in progress finishes) and
// closes the newest segment. What the log holds is replayed at the next
// Open.
func (s *Store) closeLog() error {
	l := s.log
	if l == nil {
		return nil
	}
	close(l.stop)
	<-l.done
	l.cmu.Lock() // an Elements' flush in progress
	defer l.cmu.Unlock()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.aio != nil {
		l.aio.close()
		l.aio = nil
	}
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}

// LogStats returns the element log's counters.
func (s *Store) LogStats() LogStats {
	l := s.log
	l.mu.Lock()
	st := LogStats{Batches: l.batches.Load(), Bytes: l.older + l.size, Compactions: l.compactions.Load(),
		Compacted: l.compacted.Load(), Replayed: l.replayed.Load()}
	l.mu.Unlock()
	if segs, err := segments(l.dir); err == nil {
		st.Segments = len(segs)
	}
	if e := l.lastErr.Load(); e != nil {
		st.LastError = *e
	}
	return st
}

// kv is an encoded write: v nil for a removal.
type kv struct{ k, v []byte }
