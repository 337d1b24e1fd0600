//go:build linux

package udpbatch

import (
	"encoding/binary"
	"errors"
	"net"
	"runtime"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Conn reads and writes batches of datagrams on one UDP socket.
type Conn struct {
	c     *net.UDPConn
	rc    syscall.RawConn
	v6    bool // an AF_INET6 socket
	batch bool // recvmmsg/sendmmsg work

	rhdrs []unix.Mmsghdr
	riovs []unix.Iovec
	whdrs []unix.Mmsghdr
	wiovs []unix.Iovec

	// The system call's outcome, set by the closures that RawConn runs
	// (method values made once: a closure per call would allocate).
	rn, rgot  int
	rerr      error
	wn, wgot  int
	werr      error
	readFn    func(uintptr) bool
	readNowFn func(uintptr) bool
	writeFn   func(uintptr) bool

	// full: the last read filled every slot, so more is likely queued
	// and the reader will not park soon (see yield in ReadBatch).
	full bool

	stats struct {
		readCalls, readMsgs, writeCalls, writeMsgs atomic.Uint64
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
	la, _ := c.LocalAddr().(*net.UDPAddr)
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

// Stats returns the counts of system calls and datagrams so far.
func (c *Conn) Stats() Stats {
	return Stats{ReadCalls: c.stats.readCalls.Load(), ReadMsgs: c.stats.readMsgs.Load(),
		WriteCalls: c.stats.writeCalls.Load(), WriteMsgs: c.stats.writeMsgs.Load()}
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
	if c.full {
		// The system calls are raw (see doRead): a reader that always
		// finds datagrams would hold its P until the scheduler preempts
		// it (10 ms). After a full batch, let the goroutines that are
		// waiting for this P run first (the TCP server, timers, the API),
		// as a retaken P in a system call used to let them.
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
	if err := c.rc.Read(fn); err != nil {
		return 0, err
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
			return false // wait until readable
		}
		c.rgot, c.rerr = 0, e
		return true
	}
}

// doReadNow is doRead that does not wait: EAGAIN reads nothing.
func (c *Conn) doReadNow(fd uintptr) bool {
	if !c.doRead(fd) {
		c.rgot, c.rerr = 0, nil
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
			return sent, err
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
			if r == 0 {
				return false // nothing went: wait until writable
			}
			return true
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return false
		}
		c.wgot, c.werr = 0, e
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
