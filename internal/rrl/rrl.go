package rrl

import (
	"errors"
	"fmt"
	"hash/maphash"
	"math/bits"
	"net/netip"
	"sync"
	"time"

	"github.com/poolnsd/poolnsd/internal/prefixset"
)

// Class is the kind of a reply, one of the keys of its bucket.
type Class uint8

// The classes of replies (see the package documentation for their names).
const (
	Answer Class = iota
	NoData
	NXDomain
	Referral
	Error
	// NumClasses is the number of classes.
	NumClasses
)

var classNames = [NumClasses]string{"answer", "nodata", "nxdomain", "referral", "error"}

// String names the class ("nxdomain"), as the metrics label it.
func (c Class) String() string {
	if c < NumClasses {
		return classNames[c]
	}
	return fmt.Sprintf("class(%d)", c)
}

// Verdict is what to do with a reply.
type Verdict uint8

const (
	// Send the reply.
	Send Verdict = iota
	// Drop it: no reply.
	Drop
	// Slip: send it truncated (TC=1, no records), or as BADCOOKIE when the
	// query had a client cookie (cookie.SlipAction).
	Slip
)

var verdictNames = [...]string{"send", "drop", "slip"}

// String names the verdict ("slip").
func (v Verdict) String() string {
	if int(v) < len(verdictNames) {
		return verdictNames[v]
	}
	return fmt.Sprintf("verdict(%d)", v)
}

// Config configures a Limiter. Zero values other than ResponsesPerSecond
// have defaults.
type Config struct {
	// ResponsesPerSecond is the replies per second one bucket allows, and
	// its burst; it must be at least 1.
	ResponsesPerSecond int
	// Window caps a bucket's debt: a prefix that stops flooding is
	// answered again within Window (default 15 s, BIND's).
	Window time.Duration
	// Slip: every Slip-th reply that a bucket cuts is sent truncated; 0
	// never (every cut reply is dropped), 1 always (default 2: every
	// other).
	Slip int
	// SlipSet marks Slip as set, so that 0 means 0 (not the default).
	SlipSet bool
	// IPv4Prefix and IPv6Prefix are the lengths of the client prefixes
	// (default 24 and 56).
	IPv4Prefix, IPv6Prefix int
	// Exempt are the client addresses whose replies are never limited
	// (nil: none).
	Exempt *prefixset.Set
	// TableSize is the number of buckets, rounded up to a power of two,
	// at least 1024 (default 65536: 1.5 MB).
	TableSize int
	// DryRun counts what would be dropped or slipped but sends every
	// reply, to try a rate on real traffic.
	DryRun bool
}

// Defaults of Config.
const (
	DefaultWindow     = 15 * time.Second
	DefaultSlip       = 2
	DefaultIPv4Prefix = 24
	DefaultIPv6Prefix = 56
	DefaultTableSize  = 1 << 16
)

// Response is what Decide needs to know of a reply.
type Response struct {
	// Client is the query's source address.
	Client netip.Addr
	// Class is the reply's class.
	Class Class
	// Name is the name the reply is about, by class (package
	// documentation); nil for Error.
	Name string
	// Type is the query type, a key of Answer buckets only.
	Type uint16
	// TCP: the query came over TCP or TLS (never limited).
	TCP bool
	// Verified: the query had a valid server cookie (never limited).
	Verified bool
}

// Stats are a Limiter's counters since it was made.
type Stats struct {
	// Counted are the replies that went through a bucket, by class (not
	// those over TCP, with a valid cookie, or to an exempt prefix).
	Counted [NumClasses]uint64
	// Dropped and Slipped are the replies cut, by class (in a dry run:
	// those that would have been).
	Dropped, Slipped [NumClasses]uint64
	// Evicted counts buckets replaced while they were limiting their
	// prefix: a sign that the table is too small for the flood.
	Evicted uint64
}

const (
	ways      = 4  // buckets per set
	maxShards = 64 // shards (locks) of the table
)

// bucket is one rate: a GCRA (generic cell rate algorithm) theoretical
// arrival time.
type bucket struct {
	key   uint64 // 0: empty
	tat   int64  // nanoseconds since the limiter's start
	slips uint32 // cut replies, for Slip
}

type shard struct {
	mu      sync.Mutex
	buckets []bucket // sets of ways buckets
	counted [NumClasses]uint64
	dropped [NumClasses]uint64
	slipped [NumClasses]uint64
	evicted uint64
	_       [64]byte // keeps shards' locks on separate cache lines
}

// Limiter is a response rate limiter. It is safe for concurrent use.
type Limiter struct {
	interval  int64 // nanoseconds per reply
	burst     int64 // how far ahead of now a bucket's tat may be and still send
	window    int64 // the cap of a bucket's debt
	slip      uint32
	mask4     uint32
	mask6     uint64 // of the first 64 bits (prefixes up to /64)
	mask6lo   uint64 // of the last 64 bits
	exempt    *prefixset.Set
	dryRun    bool
	seed      maphash.Seed
	start     time.Time
	shards    []shard
	shardBits uint
	setsPerSh uint64
	shardMask uint64
}

// New returns a limiter. Its error names the Config field at fault.
func New(c Config) (*Limiter, error) {
	if c.ResponsesPerSecond < 1 {
		return nil, errors.New("rrl: ResponsesPerSecond must be at least 1")
	}
	if c.Window == 0 {
		c.Window = DefaultWindow
	}
	if c.Window < time.Second {
		return nil, fmt.Errorf("rrl: Window %v is below 1s", c.Window)
	}
	if !c.SlipSet && c.Slip == 0 {
		c.Slip = DefaultSlip
	}
	if c.Slip < 0 || c.Slip > 10 {
		return nil, fmt.Errorf("rrl: Slip %d is outside 0..10", c.Slip)
	}
	if c.IPv4Prefix == 0 {
		c.IPv4Prefix = DefaultIPv4Prefix
	}
	if c.IPv6Prefix == 0 {
		c.IPv6Prefix = DefaultIPv6Prefix
	}
	if c.IPv4Prefix < 1 || c.IPv4Prefix > 32 {
		return nil, fmt.Errorf("rrl: IPv4Prefix %d is outside 1..32", c.IPv4Prefix)
	}
	if c.IPv6Prefix < 1 || c.IPv6Prefix > 128 {
		return nil, fmt.Errorf("rrl: IPv6Prefix %d is outside 1..128", c.IPv6Prefix)
	}
	if c.TableSize == 0 {
		c.TableSize = DefaultTableSize
	}
	if c.TableSize < 0 || c.TableSize > 1<<26 {
		return nil, fmt.Errorf("rrl: TableSize %d is outside 0..%d", c.TableSize, 1<<26)
	}
	size := max(1024, 1<<bits.Len(uint(c.TableSize-1)))
	nShards := min(maxShards, size/ways)
	l := &Limiter{
		interval: int64(time.Second) / int64(c.ResponsesPerSecond),
		window:   int64(c.Window),
		slip:     uint32(c.Slip),
		mask4:    ^uint32(0) << (32 - c.IPv4Prefix),
		exempt:   c.Exempt,
		dryRun:   c.DryRun,
		seed:     maphash.MakeSeed(),
		start:    time.Now(),
		shards:   make([]shard, nShards),
	}
	l.burst = int64(time.Second) - l.interval
	if c.IPv6Prefix >= 64 {
		l.mask6 = ^uint64(0)
		l.mask6lo = ^uint64(0) << (128 - c.IPv6Prefix)
		if c.IPv6Prefix == 64 {
			l.mask6lo = 0
		}
	} else {
		l.mask6 = ^uint64(0) << (64 - c.IPv6Prefix)
	}
	l.shardMask = uint64(nShards - 1)
	l.shardBits = uint(bits.Len(uint(nShards - 1)))
	l.setsPerSh = uint64(size / ways / nShards)
	for i := range l.shards {
		l.shards[i].buckets = make([]bucket, size/nShards)
	}
	return l, nil
}

// key returns the bucket key of r: a seeded hash of the client's prefix,
// the class, the type (for Answer) and the name in lower case. Never 0.
func (l *Limiter) key(r *Response) uint64 {
	var buf [20 + 255]byte
	a := r.Client.Unmap()
	if a.Is4() {
		b := a.As4()
		x := (uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])) & l.mask4
		buf[0] = 4
		buf[1], buf[2], buf[3], buf[4] = byte(x>>24), byte(x>>16), byte(x>>8), byte(x)
	} else {
		b := a.As16()
		buf[0] = 6
		for i := 0; i < 8; i++ {
			buf[1+i] = b[i] & byte(l.mask6>>(56-8*i))
			buf[9+i] = b[8+i] & byte(l.mask6lo>>(56-8*i))
		}
	}
	buf[17] = byte(r.Class)
	n := 18
	if r.Class == Answer {
		buf[18], buf[19] = byte(r.Type>>8), byte(r.Type)
		n = 20
	}
	if r.Class != Error {
		for i := 0; i < len(r.Name); i++ {
			c := r.Name[i]
			if n == len(buf) {
				break
			}
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			buf[n] = c
			n++
		}
	}
	return maphash.Bytes(l.seed, buf[:n]) | 1
}

// Decide returns what to do with reply r at now, and counts it. A nil
// Limiter (the limit off) sends every reply. It does not allocate.
func (l *Limiter) Decide(r *Response, now time.Time) Verdict {
	if l == nil || r.TCP || r.Verified || r.Class >= NumClasses || (l.exempt != nil && l.exempt.Contains(r.Client)) {
		return Send
	}
	k := l.key(r)
	t := int64(now.Sub(l.start))
	sh := &l.shards[k&l.shardMask]
	set := ((k >> l.shardBits) % l.setsPerSh) * ways

	sh.mu.Lock()
	bs := sh.buckets[set : set+ways : set+ways]
	var b *bucket
	for i := range bs {
		if bs[i].key == k {
			b = &bs[i]
			break
		}
	}
	if b == nil {
		// Replace the bucket with the least debt (an empty one has none).
		b = &bs[0]
		for i := 1; i < ways; i++ {
			if bs[i].tat < b.tat {
				b = &bs[i]
			}
		}
		if b.key != 0 && b.tat-t > l.burst {
			sh.evicted++
		}
		*b = bucket{key: k}
	}
	tat := max(b.tat, t)
	v := Send
	if tat-t > l.burst {
		b.slips++
		v = Drop
		if l.slip > 0 && b.slips%l.slip == 0 {
			v = Slip
		}
	}
	b.tat = min(tat+l.interval, t+l.window)
	sh.counted[r.Class]++
	switch v {
	case Drop:
		sh.dropped[r.Class]++
	case Slip:
		sh.slipped[r.Class]++
	}
	sh.mu.Unlock()
	if l.dryRun {
		return Send
	}
	return v
}

// Stats returns the limiter's counters (none for a nil Limiter).
func (l *Limiter) Stats() Stats {
	var s Stats
	if l == nil {
		return s
	}
	for i := range l.shards {
		sh := &l.shards[i]
		sh.mu.Lock()
		for c := range NumClasses {
			s.Counted[c] += sh.counted[c]
			s.Dropped[c] += sh.dropped[c]
			s.Slipped[c] += sh.slipped[c]
		}
		s.Evicted += sh.evicted
		sh.mu.Unlock()
	}
	return s
}
