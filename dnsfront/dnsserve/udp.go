package dnsserve

import (
	"errors"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
	"github.com/poolnsd/poolnsd/internal/udpbatch"
)

// The UDP serving loop: one goroutine per SO_REUSEPORT socket reads a batch
// of queries with one system call (recvmmsg), has the handler's Loop
// answer each into a buffer of its own and sends the batch's replies with
// one more (sendmmsg). What a datagram means, and how it is answered, is
// the Loop's: the loop only moves bytes.

// Loop answers the datagrams of one UDP socket's loop. Serve, Recover and
// Sent are called from the loop's goroutine only, one at a time; Close
// once, after the loop has ended.
//
// Serve may hand work that must not stall the loop to Socket.Go, and have
// it write its reply with a DirectWriter; SlotWriter is the
// dns.ResponseWriter of a reply that Serve returns.
type Loop interface {
	// Serve answers datagram m, of a batch read at read, into out (empty,
	// its capacity the largest reply) and returns the reply, nil for none.
	// It must not keep m or out.
	Serve(m *udpbatch.Msg, read time.Time, out []byte) []byte
	// Recover answers datagram m, into out, after Serve panicked with p
	// (a defect): it returns the reply, nil for none.
	Recover(m *udpbatch.Msg, out []byte, p any) []byte
	// Sent is called once the replies of the batch read at read are
	// written (also after a batch that had none). A Loop may do a piece
	// of work of its own there, between batches (package dnsfront signs
	// an answer that needs a new signature), and more in Idle (Idler).
	Sent(read time.Time)
	// Close frees the loop's resources, once the loop has ended and the
	// work it handed to Socket.Go is done (or Shutdown's deadline has
	// passed); the socket is closed after it.
	Close()
}

// Idler is a Loop with work of its own between batches (package dnsfront
// signs the answers that need a new signature). While Pending says that
// work is left, the loop reads the socket without waiting (recvmmsg with
// MSG_DONTWAIT: when busy, the check is the read of the next batch, no
// system call more) and, when no datagram waits, calls Idle, which does
// one piece of it (a signature): a query that comes meanwhile waits for
// that piece only.
type Idler interface {
	Pending() bool
	Idle()
}

// udpBatch is the most datagrams moved per system call (Knot's is 10).
const udpBatch = 16

// maxUDPQuery is the largest UDP query read whole (the read buffer of the
// UDP servers): queries, even signed updates, are far smaller; a larger
// buffer would only cost memory per query in flight.
const maxUDPQuery = dns.DefaultMsgSize

// udpServer serves one UDP socket.
type udpServer struct {
	loop    Loop
	idler   Idler // loop's, nil if it is none
	sock    *Socket
	bc      *udpbatch.Conn
	rx      []udpbatch.Msg // queries read
	tx      []udpbatch.Msg // replies to send, each in a buffer of its own
	udpSize int            // the largest reply: the reply buffers' size
	// txFrom[k] is the index in rx of the query that tx[k] answers.
	txFrom [udpBatch]uint8
	// sojourn, if not nil, gets a sample of the answered queries'
	// sojourns (Config.Sojourn): the socket gives each its time of
	// receipt.
	sojourn Sojourner
	log     *slog.Logger
	// nice: Config.UDPNice, for a threaded loop (nice.go); niceLogged
	// is its Server's.
	nice       int
	niceLogged *atomic.Bool

	stopping atomic.Bool
	done     chan struct{}
	closed   sync.Once // the Loop's Close, once even if Shutdown is called twice
}

func newUDPServer(h Handler, conn *net.UDPConn, udpSize int, poller bool, log *slog.Logger) (*udpServer, error) {
	newConn := udpbatch.NewThread
	if poller {
		newConn = udpbatch.New
	}
	bc, err := newConn(conn, udpBatch)
	if err != nil {
		return nil, err
	}
	u := &udpServer{bc: bc, done: make(chan struct{}), udpSize: udpSize, log: log,
		rx: make([]udpbatch.Msg, udpBatch), tx: make([]udpbatch.Msg, udpBatch)}
	for i := range u.rx {
		u.rx[i].Buf = make([]byte, maxUDPQuery)
		u.rx[i].OOB = make([]byte, 0, udpbatch.OOBSize)
		u.tx[i].Buf = make([]byte, 0, udpSize)
	}
	u.sock = NewSocket(conn)
	u.sock.bc, u.sock.srv = bc, u
	u.sock.work, u.sock.quit = make(chan func()), make(chan struct{})
	u.sock.local = bc.LocalAddr()
	u.loop = h.NewLoop(u.sock)
	u.idler, _ = u.loop.(Idler)
	return u, nil
}

// run serves until stop; it returns the error that ended it, if any
// other than stopping.
func (u *udpServer) run() error {
	defer close(u.done)
	threaded := u.bc.Threaded()
	var policyAt time.Time
	if threaded {
		// The loop waits holding its P: the rest of the process gets
		// one more (threads.go), but under a real-time policy.
		holdP(u.bc, u.log)
		defer releaseP(u.bc)
		if u.nice < 0 && !procsRT.Load() {
			// Ahead of the rest of the process, on a thread of its own
			// for good (nice.go); not under a real-time policy, which
			// ignores nice values.
			if restore := niceLoop(u.nice, u.log, u.niceLogged); restore != nil {
				defer restore()
			}
		}
	}
	for {
		for i := range u.rx {
			u.rx[i].Buf = u.rx[i].Buf[:cap(u.rx[i].Buf)]
		}
		var n int
		var err error
		if u.idler != nil && u.idler.Pending() {
			if u.stopping.Load() {
				return nil // the Loop's Close does the rest
			}
			if n, err = u.bc.ReadBatchNow(u.rx); n == 0 && err == nil {
				u.idler.Idle()
				continue
			}
		} else {
			n, err = u.bc.ReadBatch(u.rx)
		}
		now := time.Now()
		if err == nil && u.stopping.Load() {
			return nil
		}
		if err != nil {
			if u.stopping.Load() || errors.Is(err, net.ErrClosed) {
				return nil
			}
			if errors.Is(err, os.ErrDeadlineExceeded) {
				// Socket.Wake: clear its deadline, then look at stopping
				// again (stop sets it before its own deadline, which this
				// clear must not lose).
				u.sock.conn.SetReadDeadline(time.Time{})
				if u.stopping.Load() {
					return nil
				}
				continue
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return err
		}
		k := 0
		for i := 0; i < n; {
			i, k = u.serveFrom(i, n, k, now)
		}
		if k > 0 {
			if _, err := u.bc.WriteBatch(u.tx[:k]); err != nil {
				u.log.Debug("writing replies", "err", err)
			}
			if u.sojourn != nil {
				u.sojourns(k)
			}
			for i := 0; i < k; i++ {
				if cap(u.tx[i].Buf) > 4*u.udpSize {
					// A big slow-path reply (packed past the buffer): do
					// not keep its memory.
					u.tx[i].Buf = make([]byte, 0, u.udpSize)
				}
			}
		}
		u.loop.Sent(now)
		if threaded {
			loopCheck(&policyAt, now)
		}
	}
}

// stop makes run return after the batch in hand, and waits for it and for
// the work its Loop handed to Socket.Go (until ctx's deadline), then
// closes the Loop and the socket.
func (u *udpServer) stop(deadline time.Time) {
	u.stopping.Store(true)
	u.bc.Wake() // ends a waiting read
	wait := func(f func()) bool {
		c := make(chan struct{})
		go func() { f(); close(c) }()
		select {
		case <-c:
			return true
		case <-time.After(time.Until(deadline)):
			return false
		}
	}
	if wait(func() { <-u.done }) {
		wait(u.sock.inflight.Wait)
		u.closed.Do(u.loop.Close)
	}
	u.sock.stopWorkers()
	u.bc.Close()
}

// sojourns gives Config.Sojourn the sojourns of a sample of the k
// queries whose replies the batch just wrote: from each one's time of
// receipt to now. A query answered later (an update that waits for its
// commit, an answer that waits for a signature) is not among them.
func (u *udpServer) sojourns(k int) {
	var now time.Time
	for j := range k {
		if !u.sojourn.Sample() {
			continue
		}
		rx, ok := udpbatch.RxTime(u.rx[u.txFrom[j]].OOB)
		if !ok {
			continue
		}
		if now.IsZero() {
			now = time.Now()
		}
		// A step of the wall clock between the two readings: no sample.
		if d := now.Sub(rx); d >= 0 && d < time.Minute {
			u.sojourn.Sojourn(d)
		}
	}
}

// serveFrom answers datagrams i to n-1 of the batch read into u.rx at
// read, the replies into u.tx from k on, and returns where it stopped (n)
// and the replies' count. A panic while answering (a defect) costs the
// loop nothing but its datagram: the Loop's Recover answers it, and
// serveFrom returns the next datagram for the caller to go on. (One
// deferred call per batch, not per datagram.)
func (u *udpServer) serveFrom(i, n, k int, read time.Time) (next, replies int) {
	defer func() {
		if p := recover(); p != nil {
			m := &u.rx[i]
			if reply := u.loop.Recover(m, u.tx[k].Buf[:0], p); reply != nil {
				u.tx[k].Buf, u.tx[k].Addr, u.tx[k].OOB = reply, m.Addr, udpbatch.ReplyOOB(m.OOB)
				u.txFrom[k] = uint8(i)
				k++
			}
			next, replies = i+1, k
		}
	}()
	for ; i < n; i++ {
		m := &u.rx[i]
		reply := u.loop.Serve(m, read, u.tx[k].Buf[:0])
		if reply == nil {
			continue
		}
		u.tx[k].Buf, u.tx[k].Addr, u.tx[k].OOB = reply, m.Addr, udpbatch.ReplyOOB(m.OOB)
		u.txFrom[k] = uint8(i)
		k++
	}
	return i, k
}
