package dnsserve

import (
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
	"github.com/poolnsd/poolnsd/internal/udpbatch"
)

// echoHandler makes echoLoops, each with the work that work makes for
// it, and keeps the Socket and the loop of the last one (the tests of
// Idler and Socket.Wake).
type echoHandler struct {
	work func() loopWork
	sock atomic.Pointer[Socket]
	loop atomic.Pointer[echoLoop]
}

func (h *echoHandler) ServeDNS(w dns.ResponseWriter, r *dns.Msg) {}
func (h *echoHandler) PrepareStream(*dns.Server)                 {}
func (h *echoHandler) NewLoop(s *Socket) Loop {
	l := &echoLoop{loopWork: h.work()}
	h.sock.Store(s)
	h.loop.Store(l)
	return l
}

// loopWork is an echoLoop's work of its own (Idler), told of each
// datagram the loop serves.
type loopWork interface {
	Idler
	saw(m *udpbatch.Msg)
}

// echoLoop answers a datagram with its own bytes, QR set, and counts
// them; idle, it does its loopWork.
type echoLoop struct {
	loopWork
	served atomic.Int32
}

var _ Idler = (*echoLoop)(nil)

func (l *echoLoop) Serve(m *udpbatch.Msg, read time.Time, out []byte) []byte {
	l.served.Add(1)
	l.saw(m)
	out = append(out, m.Buf...)
	out[2] |= 0x80
	return out
}
func (l *echoLoop) Recover(m *udpbatch.Msg, out []byte, p any) []byte { return nil }
func (l *echoLoop) Sent(time.Time)                                    {}
func (l *echoLoop) Close()                                            {}
