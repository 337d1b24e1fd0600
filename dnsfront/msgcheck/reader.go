package msgcheck

import (
	"encoding/binary"
	"net"
	"time"

	"github.com/miekg/dns"
)

// Reader reads messages for miekg/dns's TCP (and TLS) server and checks
// each one with Check before the server sees it: it answers the ones that
// get an error itself, from their bytes, and drops the ones that get
// nothing, so that only messages to Serve go on. It is the server's
// DecorateReader's result, with Accept as its MsgAcceptFunc.
type Reader struct {
	dns.Reader
	// UDPSize is the UDP size that the OPT record of an error reply
	// advertises.
	UDPSize int
	// Rejected, if set, is told of each message not served (a Verdict
	// other than Serve), before its reply is written.
	Rejected func(Verdict)
	// Update, if set, answers an UPDATE that Check served (its bytes b,
	// what Check read of them m) on conn itself, framed, before the next
	// message is read: miekg/dns's server does not see it. An error ends
	// the connection.
	Update func(conn net.Conn, b []byte, m *Msg) error
	// Idle is the server's idle timeout (its IdleTimeout), which the read
	// after an UPDATE answered here waits, as the server waits it after
	// each message it answers; nil: the server's default, 8 s.
	Idle func() time.Duration

	msg Msg // what Check read of the message in hand (miekg/dns makes a Reader per connection)
}

// check returns the message's verdict and, for an error, the reply to send.
func (r *Reader) check(b []byte, m *Msg) (Verdict, []byte) {
	v := Check(b, m)
	if v != Serve && r.Rejected != nil {
		r.Rejected(v)
	}
	switch v {
	case FormErr:
		// At most a header, a question of 259 bytes and an OPT: it
		// fits any UDP reply.
		return v, AppendErrorReply(make([]byte, 0, 64+m.QEnd), b, m, dns.RcodeFormatError, r.UDPSize)
	case NotImp:
		return v, AppendErrorReply(make([]byte, 0, 64+m.QEnd), b, m, dns.RcodeNotImplemented, r.UDPSize)
	}
	return v, nil
}

// ReadTCP implements dns.Reader. miekg/dns ends a connection on any read
// error, so the messages it must not see are answered here and the next
// one read, as are UPDATEs when Update is set. miekg/dns's server reads
// and answers a connection's messages one after the other: an UPDATE
// answered here is answered in its turn.
func (r *Reader) ReadTCP(conn net.Conn, timeout time.Duration) ([]byte, error) {
	for {
		b, err := r.Reader.ReadTCP(conn, timeout)
		if err != nil {
			return b, err
		}
		v, reply := r.check(b, &r.msg)
		if v == Serve {
			if r.Update == nil || r.msg.Opcode() != dns.OpcodeUpdate {
				return b, nil
			}
			if err := r.Update(conn, b, &r.msg); err != nil {
				return nil, err
			}
			timeout = defaultIdle
			if r.Idle != nil {
				timeout = r.Idle()
			}
			continue
		}
		if len(reply) > 0 {
			framed := binary.BigEndian.AppendUint16(make([]byte, 0, 2+len(reply)), uint16(len(reply)))
			if _, err := conn.Write(append(framed, reply...)); err != nil {
				return nil, err
			}
		}
	}
}

// defaultIdle is miekg/dns's server's idle timeout when it has none set.
const defaultIdle = 8 * time.Second

// Accept is the MsgAcceptFunc of a server that reads through a Reader,
// which has already turned away what must not reach the handler
// (responses, opcodes other than QUERY and UPDATE, malformed messages): it
// ignores responses and accepts the rest. (miekg/dns's default would
// answer UPDATE with NOTIMP.)
func Accept(dh dns.Header) dns.MsgAcceptAction {
	if dh.Bits&BitQR != 0 {
		return dns.MsgIgnore
	}
	return dns.MsgAccept
}
