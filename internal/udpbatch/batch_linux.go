//go:build linux

package udpbatch

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Conn reads and writes batches of datagrams on one UDP socket.
type Conn struct {
	c     *net.UDPConn // New's; closed by NewThread
	rc    syscall.RawConn
	la    net.Addr
	v6    bool // an AF_INET6 socket
	batch bool // recvmmsg/sendmmsg work

	// NewThread's: the socket out of the network poller (a duplicate of
	// c's, in blocking mode), and whether Wake was called.
	f      *os.File
	woken  atomic.Bool
	closed atomic.Bool
	// schedWait: every wait goes through the scheduler (SetSchedulerWait).
	schedWait atomic.Bool
	// timed: the reader's; the socket has its receive timeout (threadIdle),
	// which a raw wait needs and one through the scheduler does without.
	timed bool

	rhdrs []unix.Mmsghdr
	riovs []unix.Iovec
	whdrs []unix.Mmsghdr
	wiovs []unix.Iovec

	// The system call's outcome, set by the closures that RawConn runs
	// (method values made once: a closure per call would allocate).
	rn, rgot  int
	rerr      error
	rintr     bool // the waiting read was interrupted (a signal, its timeout)
	idle      int  // NewThread's waits in a row that ended without a datagram
	wn, wgot  int
	werr      error
	readFn    func(uintptr) bool
	readNowFn func(uintptr) bool
	writeFn   func(uintptr) bool

	// full: the last read filled every slot, so more is likely queued
	// and the reader will not park soon (see yield in ReadBatch).
	full bool

	stats struct {
		readCalls, readMsgs, writeCalls, writeMsgs, emptyReads atomic.Uint64
	}
}

// New wraps c, moving up to size datagrams per system call. When c is
// bound to an unspecified address it asks for each datagram's destination
// address (see Msg.OOB).
func New(c *net.UDPConn, size int) (*Conn, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return nil, err
	}
	size = max(size, 1)
	bc := &Conn{c: c, rc: rc, batch: true,
		rhdrs: make([]unix.Mmsghdr, size), riovs: make([]unix.Iovec, size),
		whdrs: make([]unix.Mmsghdr, size), wiovs: make([]unix.Iovec, size)}
	bc.readFn, bc.readNowFn, bc.writeFn = bc.doRead, bc.doReadNow, bc.doWrite
	bc.la = c.LocalAddr()
	la, _ := bc.la.(*net.UDPAddr)
	var ctlErr error
	err = rc.Control(func(fd uintptr) {
		family, err := unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_DOMAIN)
		if err != nil {
			ctlErr = err
			return
		}
		bc.v6 = family == unix.AF_INET6
		if la == nil || !la.IP.IsUnspecified() {
			return
		}
		if bc.v6 {
			ctlErr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IPV6, unix.IPV6_RECVPKTINFO, 1)
			// A dual-stack socket gets IPv4 datagrams too.
			_ = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_PKTINFO, 1)
		} else {
			ctlErr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_PKTINFO, 1)
		}
	})
	if err == nil {
		err = ctlErr
	}
	if err != nil {
		return nil, err
	}
	return bc, nil
}

// threadIdle is the longest a NewThread Conn's ReadBatch waits in one
// system call (the socket's SO_RCVTIMEO): a signal ends a wait only on a
// socket with a receive timeout, and the timeout bounds the wait where
// no signal comes (see doReadWait).
const threadIdle = 50 * time.Millisecond

// threadIdleWaits is how many waits in a row may end without a datagram
// (about 10 ms each: the runtime's preemption) before a NewThread reader
// waits through the scheduler (see doReadWait).
const threadIdleWaits = 3

// threadSendWait bounds a NewThread Conn's wait for room to send (its
// SO_SNDTIMEO): the datagrams that still do not fit are dropped.
const threadSendWait = time.Second

// NewThread is New for a reader with a thread of its own: ReadBatch waits
// in the recvmmsg itself, which is raw, so that the goroutine keeps its
// P (and its thread) while it waits, as a C server's worker does: one
// system call per batch, and no scheduler between a datagram and its
// reader. The caller must leave the other goroutines a P each such
// reader does not hold (runtime.GOMAXPROCS): a P held by a waiting reader
// runs nothing else until the runtime preempts the reader (every 10 ms,
// or at once for a stop of the world).
//
// The Conn takes c's socket out of Go's network poller, which would
// otherwise wake at each datagram: it keeps a duplicate of it, in
// blocking mode, and closes c. Deadlines do not apply; Wake ends a
// waiting ReadBatch (net.ErrClosed) and Close closes the socket. Where
// recvmmsg is missing, NewThread returns New's Conn (Threaded false).
func NewThread(c *net.UDPConn, size int) (*Conn, error) {
	var dup int
	var ctlErr error
	rc, err := c.SyscallConn()
	if err != nil {
		return nil, err
	}
	if err := rc.Control(func(fd uintptr) {
		// Ask the kernel for recvmmsg without taking a datagram.
		var h [1]unix.Mmsghdr
		var b [1]byte
		var iov unix.Iovec
		iov.Base = &b[0]
		iov.SetLen(1)
		h[0].Hdr.Iov = &iov
		h[0].Hdr.SetIovlen(1)
		_, _, e := unix.RawSyscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&h[0])), 1, unix.MSG_DONTWAIT|unix.MSG_PEEK, 0, 0)
		if e == unix.ENOSYS {
			dup = -1
			return
		}
		dup, ctlErr = unix.FcntlInt(fd, unix.F_DUPFD_CLOEXEC, 0)
	}); err != nil {
		return nil, err
	}
	if ctlErr != nil {
		return nil, ctlErr
	}
	if dup < 0 {
		return New(c, size)
	}
	f, err := threadFile(dup)
	if err != nil {
		unix.Close(dup)
		return nil, err
	}
	bc, err := New(c, size)
	if err != nil {
		f.Close()
		return nil, err
	}
	if bc.rc, err = f.SyscallConn(); err != nil {
		f.Close()
		return nil, err
	}
	// Out of the poller: c's close removes the socket from it (the
	// duplicate keeps the socket open).
	c.Close()
	bc.c, bc.f = nil, f
	bc.readFn, bc.timed = bc.doReadWait, true
	return bc, nil
}

// threadFile makes fd, a duplicate of a UDP socket, NewThread's: in
// blocking mode (so that os.NewFile leaves it out of the network poller),
// with the receive and send timeouts.
func threadFile(fd int) (*os.File, error) {
	if err := unix.SetNonblock(fd, false); err != nil {
		return nil, err
	}
	if err := setRecvTimeout(uintptr(fd), threadIdle); err != nil {
		return nil, err
	}
	st := unix.NsecToTimeval(threadSendWait.Nanoseconds())
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_SNDTIMEO, &st); err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), fmt.Sprintf("udp socket %d", fd)), nil
}

// netErr returns err as the net package says it: an error of a closed
// NewThread Conn's socket (os's own) is net.ErrClosed, as New's is.
func (c *Conn) netErr(err error) error {
	if c.closed.Load() {
		return net.ErrClosed
	}
	return err
}

// setRecvTimeout sets the socket's SO_RCVTIMEO (0: none).
func setRecvTimeout(fd uintptr, d time.Duration) error {
	tv := unix.NsecToTimeval(d.Nanoseconds())
	return unix.SetsockoptTimeval(int(fd), unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
}

// Threaded reports whether the Conn is NewThread's, out of the network
// poller (ReadBatch waits holding its thread and P).
func (c *Conn) Threaded() bool { return c.f != nil }

// SetSchedulerWait has a NewThread Conn's ReadBatch wait through the
// scheduler (on) or, as NewThread makes it, raw, holding its P (off). A
// wait through the scheduler is the one an idle reader falls back to (see
// doReadWait): the runtime may give the P to another thread meanwhile, as
// for any blocking system call, and no signal or timeout ends it early.
// Package dnsserve turns it on under a real-time scheduling policy, where
// a P held by a thread that waits starves the others (threads.go). It is
// safe to call from any goroutine; a raw wait in progress ends within
// threadIdle, and the next one follows the setting. New's Conn ignores it.
func (c *Conn) SetSchedulerWait(on bool) { c.schedWait.Store(on) }

// Wake ends a ReadBatch that waits, and every later one, with
// net.ErrClosed (New's Conn: a deadline of now, which a later
// SetReadDeadline lifts).
func (c *Conn) Wake() {
	if c.f == nil {
		c.c.SetReadDeadline(time.Now())
		return
	}
	c.woken.Store(true)
	// A socket shut down for reading ends the waits on it (and makes
	// every later read return at once).
	c.rc.Control(func(fd uintptr) { unix.Shutdown(int(fd), unix.SHUT_RD) })
}

// Close closes the socket.
func (c *Conn) Close() error {
	if c.f != nil {
		c.woken.Store(true)
		c.closed.Store(true)
		return c.f.Close()
	}
	return c.c.Close()
}

// LocalAddr returns the socket's address.
func (c *Conn) LocalAddr() net.Addr { return c.la }

// WriteTo sends one datagram b, with control data oob, to to: a reply
// written off the reader's goroutine. It is safe to call concurrently with
// the reader's calls.
func (c *Conn) WriteTo(b, oob []byte, to netip.AddrPort) error {
	if c.f == nil {
		_, _, err := c.c.WriteMsgUDPAddrPort(b, oob, to)
		return err
	}
	op := sendOps.Get().(*sendOp)
	op.a = AddrFrom(to, c.v6)
	op.iov.Base = unsafe.SliceData(b)
	op.iov.SetLen(len(b))
	op.h = unix.Msghdr{Name: &op.a.raw[0], Namelen: op.a.n, Iov: &op.iov}
	op.h.SetIovlen(1)
	if len(oob) > 0 {
		op.h.Control = &oob[0]
		op.h.SetControllen(len(oob))
	}
	op.err = nil
	err := c.rc.Write(op.fn)
	serr := op.err
	// Nothing of the caller's stays in the pool.
	op.iov.Base, op.h.Control = nil, nil
	sendOps.Put(op)
	if err != nil {
		return c.netErr(err)
	}
	c.stats.writeCalls.Add(1)
	if serr == nil {
		c.stats.writeMsgs.Add(1)
	}
	return serr
}

// sendOp is a WriteTo's system call: its message header, and the function
// that RawConn runs (a method value made once), kept in sendOps for the
// next WriteTo. A closure of each call's, with the address it sends to,
// was 128 bytes of garbage of every reply written off the reader's
// goroutine (each DNS UPDATE's).
type sendOp struct {
	h   unix.Msghdr
	iov unix.Iovec
	a   Addr
	err error
	fn  func(fd uintptr) bool
}

var sendOps = sync.Pool{New: func() any {
	op := new(sendOp)
	op.fn = op.send
	return op
}}

func (op *sendOp) send(fd uintptr) bool {
	for {
		// Through the scheduler: it may wait (SO_SNDTIMEO bounds it).
		_, _, e := unix.Syscall(unix.SYS_SENDMSG, fd, uintptr(unsafe.Pointer(&op.h)), 0)
		if e == unix.EINTR {
			continue
		}
		if e != 0 {
			op.err = e
		}
		return true
	}
}

// Stats returns the counts of system calls and datagrams so far.
func (c *Conn) Stats() Stats {
	return Stats{ReadCalls: c.stats.readCalls.Load(), ReadMsgs: c.stats.readMsgs.Load(),
		WriteCalls: c.stats.writeCalls.Load(), WriteMsgs: c.stats.writeMsgs.Load(),
		EmptyReads: c.stats.emptyReads.Load()}
}

// ReadBatch waits for datagrams and reads up to len(ms) of them (see Msg).
func (c *Conn) ReadBatch(ms []Msg) (int, error) {
	return c.readBatch(ms, c.readFn)
}

// ReadBatchNow reads up to len(ms) datagrams if any wait, without waiting:
// 0 and no error when none does (or, without recvmmsg, always). A reader
// with work of its own checks the socket with it: when busy, the check
// is the read.
func (c *Conn) ReadBatchNow(ms []Msg) (int, error) {
	if !c.batch {
		return 0, nil
	}
	return c.readBatch(ms, c.readNowFn)
}

func (c *Conn) readBatch(ms []Msg, fn func(uintptr) bool) (int, error) {
	if !c.batch {
		return c.readOne(ms)
	}
	if c.full && (c.f == nil || c.schedWait.Load()) {
		// The system calls are raw (see doRead): a reader that always
		// finds datagrams would hold its P until the scheduler preempts
		// it (10 ms). After a full batch, let the goroutines that are
		// waiting for this P run first (the TCP server, timers, the API),
		// as a retaken P in a system call used to let them. (NewThread's
		// reader does not: the others have Ps of their own, and a yield
		// would wake a thread for an idle one each time; but with
		// SetSchedulerWait they have not, and under a real-time policy
		// the runtime's monitor, which preempts, runs only when the CPU
		// is free.)
		c.full = false
		runtime.Gosched()
	}
	n := min(len(ms), len(c.rhdrs))
	for i := 0; i < n; i++ {
		m := &ms[i]
		c.riovs[i].Base = &m.Buf[0]
		c.riovs[i].SetLen(len(m.Buf))
		h := &c.rhdrs[i].Hdr
		h.Name, h.Namelen = &m.Addr.raw[0], uint32(len(m.Addr.raw))
		h.Iov = &c.riovs[i]
		h.SetIovlen(1)
		if cap(m.OOB) > 0 {
			oob := m.OOB[:cap(m.OOB)]
			h.Control = &oob[0]
			h.SetControllen(len(oob))
		} else {
			h.Control = nil
			h.SetControllen(0)
		}
		h.Flags = 0
	}
	c.rn = n
	for {
		if err := c.rc.Read(fn); err != nil {
			return 0, c.netErr(err)
		}
		if !c.rintr {
			break
		}
		// A signal ended the wait (the runtime's preemption: a stop
		// of the world, or 10 ms "running"), or its timeout: let the
		// scheduler have the goroutine, then wait again (a wait
		// through the scheduler has let it already).
		c.rintr = false
		c.stats.emptyReads.Add(1)
		if c.idle <= threadIdleWaits {
			runtime.Gosched()
		}
	}
	if c.rerr != nil {
		if errors.Is(c.rerr, unix.ENOSYS) {
			c.batch = false // no recvmmsg here: one at a time
			return c.readOne(ms)
		}
		return 0, c.rerr
	}
	for i := 0; i < c.rgot; i++ {
		h := &c.rhdrs[i]
		ms[i].Buf = ms[i].Buf[:h.Len]
		ms[i].Addr.n = h.Hdr.Namelen
		ms[i].OOB = ms[i].OOB[:h.Hdr.Controllen]
	}
	c.full = c.rgot == n
	c.stats.readCalls.Add(1)
	c.stats.readMsgs.Add(uint64(c.rgot))
	return c.rgot, nil
}

// doRead and doWrite make their system calls raw, without telling the
// scheduler (entersyscall): with MSG_DONTWAIT they never block, and a
// system call the scheduler knows of costs a busy loop more than its own
// time. A recvmmsg or sendmmsg of a batch takes tens of microseconds on a
// paravirtualized kernel, longer than a tick of the runtime's monitor
// thread (sysmon, 20 µs), which then takes the P away and wakes a spinning
// thread for it (handoffp, when no P is idle, as with one P per loop);
// the loop's thread, back from its call, finds the P gone, parks on a
// futex and is woken again; and sysmon, which did work, keeps polling
// every 20 µs. With the cores pinned as in bench/peers (closed loop, one
// P), that was 0.10–0.14 context switches and 0.04–0.06 nanosleeps per
// query, against 0.01–0.03 and none with raw calls, and about a quarter
// of the CPU per query (bench/RESULTS.md, "The loop's system calls made
// raw"). Waiting stays in Go's network poller (rc.Read and rc.Write park
// the goroutine when a call returns EAGAIN).
func (c *Conn) doRead(fd uintptr) bool {
	for {
		r, _, e := unix.RawSyscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&c.rhdrs[0])), uintptr(c.rn), unix.MSG_DONTWAIT, 0, 0)
		switch e {
		case 0:
			c.rgot, c.rerr = int(r), nil
			return true
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			c.stats.emptyReads.Add(1)
			return false // wait until readable
		}
		c.rgot, c.rerr = 0, e
		return true
	}
}

// doReadNow is doRead that does not wait: EAGAIN reads nothing.
func (c *Conn) doReadNow(fd uintptr) bool {
	if c.woken.Load() {
		c.rgot, c.rerr = 0, net.ErrClosed
		return true
	}
	if !c.doRead(fd) {
		c.rgot, c.rerr = 0, nil
	}
	return true
}

// doReadWait is NewThread's doRead: the recvmmsg waits for the first
// datagram itself (MSG_WAITFORONE: then it takes what is queued, up to
// the batch, without waiting more), raw, on a thread that keeps its P
// meanwhile. One system call per batch, where waiting in the network
// poller costs an EAGAIN recvmmsg, two epoll_pwait and the scheduler's
// park and wake of the goroutine (about 4 500 instructions) each time the
// socket is found empty.
//
// The runtime must still be able to stop the goroutine (a stop of the
// world for the collector, or its preemption after 10 ms "running"): it
// signals the thread, and the socket's receive timeout (SO_RCVTIMEO,
// threadIdle) makes the signal end the wait with EINTR, where a socket
// read would otherwise be restarted; the caller then yields
// (runtime.Gosched). The timeout itself bounds the wait when no signal
// comes (GODEBUG=asyncpreemptoff=1, or a signal that came just before
// the call). Wake shuts the socket down for reading, which ends a wait
// at once.
//
// A reader that stays idle would be preempted, and so woken with the
// runtime's threads, every 10 ms: after threadIdleWaits waits in a row
// that ended without a datagram, the reader waits through the scheduler
// instead (entersyscall: the runtime takes the P back for others and
// signals nothing) and without the receive timeout, until a datagram
// comes. The first datagram after an idle spell then pays the scheduler's
// wake-up, as in the network poller, and a setsockopt. With
// SetSchedulerWait every wait is of that kind.
func (c *Conn) doReadWait(fd uintptr) bool {
	if c.woken.Load() {
		c.rgot, c.rerr = 0, net.ErrClosed
		return true
	}
	var r uintptr
	var e syscall.Errno
	raw := c.idle < threadIdleWaits && !c.schedWait.Load()
	if raw != c.timed {
		// A raw wait needs the receive timeout; none through the
		// scheduler: nothing needs to interrupt a wait the scheduler
		// knows of (Wake still ends it), and each timeout would wake the
		// runtime's monitor for a while.
		d := time.Duration(0)
		if raw {
			d = threadIdle
		}
		setRecvTimeout(fd, d)
		c.timed = raw
	}
	if raw {
		r, _, e = unix.RawSyscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&c.rhdrs[0])), uintptr(c.rn), unix.MSG_WAITFORONE, 0, 0)
	} else {
		r, _, e = unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&c.rhdrs[0])), uintptr(c.rn), unix.MSG_WAITFORONE, 0, 0)
	}
	switch {
	case c.woken.Load():
		c.rgot, c.rerr = 0, net.ErrClosed
	case e == 0:
		c.rgot, c.rerr, c.idle = int(r), nil, 0
	case e == unix.EINTR || e == unix.EAGAIN:
		c.rintr = true
		c.idle++
	default:
		c.rgot, c.rerr = 0, e
	}
	return true
}

// WriteBatch sends every message of ms. A message the kernel refuses (an
// unreachable destination, say) is skipped and the rest still sent; the
// first such error is returned with the count of messages sent.
func (c *Conn) WriteBatch(ms []Msg) (int, error) {
	if !c.batch {
		return c.writeOne(ms)
	}
	sent, failed := 0, 0
	var first error
	for done := 0; done < len(ms); {
		n := min(len(ms)-done, len(c.whdrs))
		for i := 0; i < n; i++ {
			m := &ms[done+i]
			c.wiovs[i].Base = unsafe.SliceData(m.Buf)
			c.wiovs[i].SetLen(len(m.Buf))
			h := &c.whdrs[i].Hdr
			h.Name, h.Namelen = &m.Addr.raw[0], m.Addr.n
			h.Iov = &c.wiovs[i]
			h.SetIovlen(1)
			if len(m.OOB) > 0 {
				h.Control = &m.OOB[0]
				h.SetControllen(len(m.OOB))
			} else {
				h.Control = nil
				h.SetControllen(0)
			}
			h.Flags = 0
		}
		c.wn = n
		if err := c.rc.Write(c.writeFn); err != nil {
			return sent, c.netErr(err)
		}
		c.stats.writeCalls.Add(1)
		if c.werr != nil {
			// The first message of the call failed: skip it.
			failed++
			if first == nil {
				first = c.werr
			}
			done++
			continue
		}
		sent += c.wgot
		done += c.wgot
	}
	c.stats.writeMsgs.Add(uint64(sent))
	return sent, first
}

func (c *Conn) doWrite(fd uintptr) bool {
	for {
		r, _, e := unix.RawSyscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&c.whdrs[0])), uintptr(c.wn), unix.MSG_DONTWAIT, 0, 0)
		switch e {
		case 0:
			c.wgot, c.werr = int(r), nil
			if r > 0 {
				return true
			}
		case unix.EINTR:
			continue
		case unix.EAGAIN:
		default:
			c.wgot, c.werr = 0, e
			return true
		}
		// Nothing went: wait until writable.
		if c.f != nil {
			// Out of the network poller: wait in the call (bounded by
			// the socket's send timeout, threadSendWait).
			return c.doWriteWait(fd)
		}
		return false
	}
}

// doWriteWait is a sendmmsg that waits for room in the socket's send
// buffer, through the scheduler (the thread may block): NewThread's
// WriteBatch, when a sendmmsg that does not wait sent nothing.
func (c *Conn) doWriteWait(fd uintptr) bool {
	for {
		r, _, e := unix.Syscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&c.whdrs[0])), uintptr(c.wn), 0, 0, 0)
		switch {
		case e == unix.EINTR:
			continue
		case e == 0 && r > 0:
			c.wgot, c.werr = int(r), nil
		case e == 0:
			c.wgot, c.werr = 0, unix.EAGAIN
		default:
			c.wgot, c.werr = 0, e
		}
		return true
	}
}

// readOne reads one datagram with the net package (no recvmmsg).
func (c *Conn) readOne(ms []Msg) (int, error) {
	m := &ms[0]
	oob := m.OOB[:cap(m.OOB)]
	n, oobn, _, ap, err := c.c.ReadMsgUDPAddrPort(m.Buf, oob)
	if err != nil {
		return 0, err
	}
	m.Buf, m.OOB, m.Addr = m.Buf[:n], oob[:oobn], AddrFrom(ap, c.v6)
	c.stats.readCalls.Add(1)
	c.stats.readMsgs.Add(1)
	return 1, nil
}

// writeOne writes the messages one by one with the net package.
func (c *Conn) writeOne(ms []Msg) (int, error) {
	sent := 0
	var first error
	for i := range ms {
		m := &ms[i]
		_, _, err := c.c.WriteMsgUDPAddrPort(m.Buf, m.OOB, m.Addr.AddrPort())
		c.stats.writeCalls.Add(1)
		if err != nil {
			if first == nil {
				first = err
			}
			continue
		}
		sent++
	}
	c.stats.writeMsgs.Add(uint64(sent))
	return sent, first
}

// Stamp has the kernel give each datagram read from now on its time of
// receipt (SO_TIMESTAMPNS), in its control data (RxTime); the Msgs read
// need room for it (OOBSize).
func (c *Conn) Stamp() error {
	var serr error
	if err := c.rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1)
	}); err != nil {
		return err
	}
	return serr
}

// RxTime returns the time the kernel received a datagram, from the
// control data it came with (Stamp), by the wall clock; false when the
// control data holds none.
func RxTime(oob []byte) (time.Time, bool) {
	const hdr = unix.SizeofCmsghdr
	for off := 0; off+hdr <= len(oob); {
		h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[off]))
		clen := int(h.Len)
		if clen < hdr || off+clen > len(oob) {
			return time.Time{}, false
		}
		if h.Level == unix.SOL_SOCKET && h.Type == unix.SCM_TIMESTAMPNS && clen-hdr >= int(unsafe.Sizeof(unix.Timespec{})) {
			ts := (*unix.Timespec)(unsafe.Pointer(&oob[off+hdr]))
			return time.Unix(int64(ts.Sec), int64(ts.Nsec)), true
		}
		off += unix.CmsgSpace(clen - hdr)
	}
	return time.Time{}, false
}

// ReplyOOB turns the control data that came with a query (its destination
// address, IP_PKTINFO or IPV6_PKTINFO) into the control data of the reply,
// in place: the reply leaves from that address, routed by the tables (the
// interface index is cleared). It returns oob, or nil when it holds no
// destination address.
func ReplyOOB(oob []byte) []byte {
	const hdr = unix.SizeofCmsghdr
	for off := 0; off+hdr <= len(oob); {
		h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[off]))
		level, typ, clen := h.Level, h.Type, int(h.Len)
		if clen < hdr || off+clen > len(oob) {
			return nil
		}
		data := oob[off+hdr : off+clen]
		switch {
		case level == unix.IPPROTO_IP && typ == unix.IP_PKTINFO && len(data) >= unix.SizeofInet4Pktinfo:
			// struct in_pktinfo { int ifindex; in_addr spec_dst; in_addr addr; }
			copy(data[4:8], data[8:12])
			binary.NativeEndian.PutUint32(data[0:4], 0)
			return oob[off : off+clen]
		case level == unix.IPPROTO_IPV6 && typ == unix.IPV6_PKTINFO && len(data) >= unix.SizeofInet6Pktinfo:
			// struct in6_pktinfo { in6_addr addr; unsigned ifindex; }: the
			// index stays for a link-local address, which needs it.
			if !(data[0] == 0xfe && data[1]&0xc0 == 0x80) {
				binary.NativeEndian.PutUint32(data[16:20], 0)
			}
			return oob[off : off+clen]
		}
		off += unix.CmsgSpace(clen - hdr)
	}
	return nil
}
