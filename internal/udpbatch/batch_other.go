//go:build !linux

package udpbatch

import (
	"errors"
	"net"
	"net/netip"
	"sync/atomic"
	"time"
)

// Conn reads and writes datagrams one at a time with the net package
// (recvmmsg and sendmmsg are Linux's).
type Conn struct {
	c     *net.UDPConn
	v6    bool
	stats struct {
		readCalls, readMsgs, writeCalls, writeMsgs atomic.Uint64
	}
}

// New wraps c.
func New(c *net.UDPConn, size int) (*Conn, error) {
	la, _ := c.LocalAddr().(*net.UDPAddr)
	return &Conn{c: c, v6: la != nil && la.IP.To4() == nil}, nil
}

// NewThread is New here: the wait in a system call of the reader's own is
// Linux's.
func NewThread(c *net.UDPConn, size int) (*Conn, error) { return New(c, size) }

// Threaded reports false: see NewThread.
func (c *Conn) Threaded() bool { return false }

// SetSchedulerWait does nothing here: no Conn waits holding its P.
func (c *Conn) SetSchedulerWait(on bool) {}

// Wake ends a waiting ReadBatch (a deadline of now).
func (c *Conn) Wake() { c.c.SetReadDeadline(time.Now()) }

// Close closes the socket.
func (c *Conn) Close() error { return c.c.Close() }

// LocalAddr returns the socket's address.
func (c *Conn) LocalAddr() net.Addr { return c.c.LocalAddr() }

// WriteTo sends one datagram b to to (oob is not sent here).
func (c *Conn) WriteTo(b, oob []byte, to netip.AddrPort) error {
	_, err := c.c.WriteToUDPAddrPort(b, to)
	return err
}

// Stats returns the counts of system calls and datagrams so far.
func (c *Conn) Stats() Stats {
	return Stats{ReadCalls: c.stats.readCalls.Load(), ReadMsgs: c.stats.readMsgs.Load(),
		WriteCalls: c.stats.writeCalls.Load(), WriteMsgs: c.stats.writeMsgs.Load()}
}

// ReadBatch reads one datagram.
func (c *Conn) ReadBatch(ms []Msg) (int, error) {
	m := &ms[0]
	n, _, _, ap, err := c.c.ReadMsgUDPAddrPort(m.Buf, nil)
	if err != nil {
		return 0, err
	}
	m.Buf, m.OOB, m.Addr = m.Buf[:n], m.OOB[:0], AddrFrom(ap, c.v6)
	c.stats.readCalls.Add(1)
	c.stats.readMsgs.Add(1)
	return 1, nil
}

// ReadBatchNow reads nothing: a read that does not wait needs recvmmsg
// here.
func (c *Conn) ReadBatchNow(ms []Msg) (int, error) { return 0, nil }

// WriteBatch writes the messages one by one.
func (c *Conn) WriteBatch(ms []Msg) (int, error) {
	sent := 0
	var first error
	for i := range ms {
		_, _, err := c.c.WriteMsgUDPAddrPort(ms[i].Buf, nil, ms[i].Addr.AddrPort())
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

// Stamp is not supported here: no control data is read.
func (c *Conn) Stamp() error { return errors.ErrUnsupported }

// RxTime returns false: no control data is read here.
func RxTime(oob []byte) (time.Time, bool) { return time.Time{}, false }

// ReplyOOB returns nil: no destination addresses are asked for here.
func ReplyOOB(oob []byte) []byte { return nil }
