package wire

import (
	"encoding/binary"
	"fmt"
)

// Message is one ENRP message (RFC 5353 §2). Which fields mean something
// depends on Type; Encode ignores the others and Decode leaves them zero.
type Message struct {
	Type  Type
	Flags uint8 // FlagReplyRequired, FlagOwnChildrenOnly, FlagMoreToSend, FlagReject
	// Sender is the Sending Server's ID; Receiver the Receiving Server's
	// ID, 0 when the sender does not know it yet.
	Sender, Receiver uint32

	// Target is the Target Server's ID of INIT_TAKEOVER,
	// INIT_TAKEOVER_ACK and TAKEOVER_SERVER.
	Target uint32

	// Checksum is the PE Checksum of a PRESENCE: the sender's ownership
	// checksum (see Checksum).
	Checksum uint16
	// Server is the optional Server Information of a PRESENCE.
	Server *ServerInfo
	// Digest is poolnsd's optional ownership digest in a PRESENCE.
	Digest *Digest

	// Action is the update action of a HANDLE_UPDATE.
	Action UpdateAction
	// Entries are the pools of a HANDLE_TABLE_RESPONSE, each a pool handle
	// and its elements, or the one pool and one element of a
	// HANDLE_UPDATE.
	Entries []Entry

	// Handoff, in a HANDLE_TABLE_RESPONSE, makes it a page of a hand-off
	// or hand-back; in a PRESENCE it acknowledges a hand-off
	// (ParamXHandoff). Nil if absent.
	Handoff *Handoff

	// Servers are the Server Information parameters of a LIST_RESPONSE.
	Servers []ServerInfo

	// Causes are the error causes of an ERROR.
	Causes []Cause
	// Refused, in an ERROR, names the request refused (poolnsd's
	// ParamXRefused), nil if the ERROR is about something else.
	Refused *Refused

	// Unrecognized are parameters of unknown type that Decode skipped and
	// that ask to be reported (top bits 11), each as received. Encode
	// ignores them.
	Unrecognized [][]byte
}

// Entry is a pool handle and elements of that pool.
type Entry struct {
	Handle   []byte
	Elements []PE
}

// Digest is poolnsd's ownership digest (ParamXDigest): how many elements
// the sender owns and a 64-bit hash of their contents. It catches what the
// RFC's checksum, which covers only handles and identifiers, cannot: a lost
// update of an element's health or load.
type Digest struct {
	Count uint32
	Hash  uint64
}

// Handoff is poolnsd's hand-off parameter (ParamXHandoff).
type Handoff struct {
	// Kind is HandoffPage, HandoffLast, HandoffAck, HandbackPage,
	// SyncPage or SyncLast.
	Kind uint8
	// Live is how many registrars (the sender included) the sender saw
	// live while it was the home of the elements of the page: between
	// two registrars that each held an element (each side of a healed
	// partition), the state of the one that saw more is the current one.
	Live uint16
	// Seq is the hand-off's sequence number, which its acknowledgement
	// carries back.
	Seq uint32
	// Flags: HandoffDelta (in the byte that was reserved, zero: a
	// receiver that does not know a flag ignores it).
	Flags uint8
}

// Kinds of Handoff.
const (
	// HandoffPage: a page of a planned hand-off (the sender is leaving):
	// the receiver becomes the home of the page's elements.
	HandoffPage uint8 = 1
	// HandoffLast: the last page of a planned hand-off to the receiver
	// (it may hold no element): the sender is leaving, and its other
	// elements go to their next homes; acknowledge with HandoffAck.
	HandoffLast uint8 = 2
	// HandoffAck, in a PRESENCE: the receiver of a hand-off took it.
	HandoffAck uint8 = 3
	// HandbackPage: elements whose home moved from the sender to the
	// receiver when the live set grew (a registrar joined or came back),
	// with the sender's current state of them.
	HandbackPage uint8 = 4
	// SyncPage: a page of the sender's own elements, pushed unasked when
	// it meets the receiver again (a new connection after one was lost,
	// or the receiver back from the dead), so that no request and no
	// round trip per page stands between a heal and a synced view; the
	// pages of one push share Seq. SyncLast is its last page (it may
	// hold no element): what the receiver believed the sender owned and
	// the push did not carry is swept, as at the end of an
	// own-children-only table transfer.
	SyncPage uint8 = 5
	SyncLast uint8 = 6
)

// HandoffDelta, in the Flags of a push (SyncPage, SyncLast), says that it
// carries the sender's zone-file elements changed since it lost the
// receiver, not all it homes: the receiver keeps what it had from the
// sender for the others (it may have to put back what it had before it
// took them over, see enrp/baseline), and a receiver that cannot is set
// right by its next audit.
const HandoffDelta uint8 = 0x01

func (e *enc) handoff(h *Handoff) {
	e.param(ParamXHandoff, func() {
		e.u8(h.Kind)
		e.u8(h.Flags)
		e.u16(h.Live)
		e.u32(h.Seq)
	})
}

func (w *walker) handoff(p param, typ Type) (*Handoff, error) {
	if len(p.val) != 8 {
		return nil, Malformed(p.off, "hand-off parameter has %d bytes of value, want 8", len(p.val))
	}
	h := &Handoff{Kind: p.val[0], Flags: p.val[1], Live: binary.BigEndian.Uint16(p.val[2:]), Seq: binary.BigEndian.Uint32(p.val[4:])}
	switch {
	case typ == TypePresence && h.Kind == HandoffAck:
	case typ == TypeHandleTableResp && (h.Kind == HandoffPage || h.Kind == HandoffLast || h.Kind == HandbackPage ||
		h.Kind == SyncPage || h.Kind == SyncLast):
	default:
		return nil, Malformed(p.off, "hand-off kind %d in a %s", h.Kind, typ)
	}
	return h, nil
}

// Has reports whether all bits of flag are set.
func (m *Message) Has(flag uint8) bool { return m.Flags&flag == flag }

func (m *Message) String() string {
	s := fmt.Sprintf("%s %08x→%08x", m.Type, m.Sender, m.Receiver)
	if m.Flags != 0 {
		s += fmt.Sprintf(" flags=%#02x", m.Flags)
	}
	switch m.Type {
	case TypePresence:
		s += fmt.Sprintf(" checksum=%04x", m.Checksum)
	case TypeInitTakeover, TypeInitTakeoverAck, TypeTakeoverServer:
		s += fmt.Sprintf(" target=%08x", m.Target)
	case TypeHandleUpdate:
		s += " " + m.Action.String()
		if len(m.Entries) == 1 && len(m.Entries[0].Elements) == 1 {
			pe := &m.Entries[0].Elements[0]
			s += fmt.Sprintf(" %s %08x home=%08x", m.Entries[0].Handle, pe.ID, pe.Home)
			if pe.X != nil {
				s += fmt.Sprintf(" gen=%d", pe.X.Gen)
			}
		}
	}
	if n := m.ElementCount(); n > 0 {
		s += fmt.Sprintf(" elements=%d", n)
	}
	if h := m.Handoff; h != nil {
		s += fmt.Sprintf(" handoff=%d seq=%d live=%d", h.Kind, h.Seq, h.Live)
	}
	return s
}

// ElementCount returns the number of elements the message carries, over
// all its entries.
func (m *Message) ElementCount() int {
	n := 0
	for _, e := range m.Entries {
		n += len(e.Elements)
	}
	return n
}

// Encode returns the message in its wire format. Its length is a multiple
// of 4. It fails only for messages longer than 65 535 bytes or a
// HANDLE_UPDATE without exactly one element.
func (m *Message) Encode() ([]byte, error) { return m.AppendEncode(nil) }

// AppendEncode appends the wire format of the message to b.
func (m *Message) AppendEncode(b []byte) ([]byte, error) {
	e := &enc{b: b}
	start := len(e.b)
	e.u8(uint8(m.Type))
	e.u8(m.Flags)
	e.u16(0)
	e.u32(m.Sender)
	e.u32(m.Receiver)
	switch m.Type {
	case TypePresence:
		e.param(ParamPEChecksum, func() { e.u16(m.Checksum) })
		if m.Server != nil {
			e.serverInfo(m.Server)
		}
		if d := m.Digest; d != nil {
			e.param(ParamXDigest, func() {
				e.u32(d.Count)
				e.b = binary.BigEndian.AppendUint64(e.b, d.Hash)
			})
		}
		if m.Handoff != nil {
			e.handoff(m.Handoff)
		}
	case TypeHandleTableResp:
		for i := range m.Entries {
			e.bytesParam(ParamPoolHandle, m.Entries[i].Handle)
			for j := range m.Entries[i].Elements {
				e.pe(&m.Entries[i].Elements[j])
			}
		}
		if m.Handoff != nil {
			e.handoff(m.Handoff)
		}
	case TypeHandleUpdate:
		if len(m.Entries) != 1 || len(m.Entries[0].Elements) != 1 {
			return b, fmt.Errorf("enrp: a HANDLE_UPDATE carries one element, not %d", m.ElementCount())
		}
		e.u16(uint16(m.Action))
		e.u16(0)
		e.bytesParam(ParamPoolHandle, m.Entries[0].Handle)
		e.pe(&m.Entries[0].Elements[0])
	case TypeListResponse:
		for i := range m.Servers {
			e.serverInfo(&m.Servers[i])
		}
	case TypeInitTakeover, TypeInitTakeoverAck, TypeTakeoverServer:
		e.u32(m.Target)
	case TypeError:
		e.causes(m.Causes)
		if m.Refused != nil {
			e.refused(m.Refused)
		}
	}
	n := len(e.b) - start
	if e.err != nil || n > maxMessage {
		return b, fmt.Errorf("enrp: %s message of %d bytes: %w", m.Type, n, errTooLong)
	}
	binary.BigEndian.PutUint16(e.b[start+2:], uint16(n))
	return e.b, nil
}

// MessageLen returns the length of the message that starts with header
// (its first 4 bytes), as its length field says: what a stream reader must
// read in all. It is at least 4 when ok.
func MessageLen(header []byte) (n int, ok bool) {
	if len(header) < HeaderLen {
		return 0, false
	}
	n = int(binary.BigEndian.Uint16(header[2:]))
	return n, n >= HeaderLen
}

// Decode parses one message, which must fill b exactly. Its errors are
// *DecodeError: ErrMalformed, ErrUnknownType, ErrDiscarded. It never
// panics, whatever b holds, and keeps no reference to b.
func Decode(b []byte) (*Message, error) {
	if len(b) < HeaderLen {
		return nil, Malformed(0, "%d bytes, shorter than a message header", len(b))
	}
	n := int(binary.BigEndian.Uint16(b[2:]))
	if n != len(b) {
		return nil, Malformed(2, "message length %d, but %d bytes", n, len(b))
	}
	m := &Message{Type: Type(b[0]), Flags: b[1]}
	if _, known := typeNames[m.Type]; !known {
		return nil, &DecodeError{Kind: ErrUnknownType, Offset: 0, What: fmt.Sprintf("message type %d", b[0]),
			Report: [][]byte{clone(b[:min(len(b), 64)])}}
	}
	fixed := HeaderLen + IDsLen
	switch m.Type {
	case TypeInitTakeover, TypeInitTakeoverAck, TypeTakeoverServer, TypeHandleUpdate:
		fixed += 4
	}
	if len(b) < fixed {
		return nil, Malformed(2, "%s of %d bytes, want at least %d", m.Type, len(b), fixed)
	}
	m.Sender = binary.BigEndian.Uint32(b[4:])
	m.Receiver = binary.BigEndian.Uint32(b[8:])
	switch m.Type {
	case TypeInitTakeover, TypeInitTakeoverAck, TypeTakeoverServer:
		m.Target = binary.BigEndian.Uint32(b[12:])
	case TypeHandleUpdate:
		m.Action = UpdateAction(binary.BigEndian.Uint16(b[12:]))
		if m.Action != AddPE && m.Action != DelPE {
			return nil, Malformed(12, "unknown update action %d", m.Action)
		}
	}
	ps, err := splitParams(b[fixed:], fixed)
	if err != nil {
		return nil, err
	}
	w := &walker{}
	if err := w.message(m, ps); err != nil {
		return nil, err
	}
	m.Unrecognized = w.report
	return m, nil
}

func (w *walker) message(m *Message, ps []param) error {
	var err error
	switch m.Type {
	case TypePresence:
		if ps, err = w.filter(ps, is(ParamPEChecksum, ParamServerInfo, ParamXDigest, ParamXHandoff)); err != nil {
			return err
		}
		var sum bool
		for _, p := range ps {
			switch p.typ {
			case ParamPEChecksum:
				if sum || len(p.val) != 2 {
					return Malformed(p.off, "PE checksum parameter twice or of %d bytes, want one of 2", len(p.val))
				}
				m.Checksum, sum = binary.BigEndian.Uint16(p.val), true
			case ParamServerInfo:
				if m.Server != nil {
					return Malformed(p.off, "two server information parameters in a PRESENCE")
				}
				if m.Server, err = w.serverInfo(p); err != nil {
					return err
				}
			case ParamXDigest:
				if m.Digest != nil || len(p.val) != 12 {
					return Malformed(p.off, "digest parameter twice or of %d bytes, want one of 12", len(p.val))
				}
				m.Digest = &Digest{Count: binary.BigEndian.Uint32(p.val), Hash: binary.BigEndian.Uint64(p.val[4:])}
			case ParamXHandoff:
				if m.Handoff != nil {
					return Malformed(p.off, "two hand-off parameters in a PRESENCE")
				}
				if m.Handoff, err = w.handoff(p, m.Type); err != nil {
					return err
				}
			}
		}
		if !sum {
			return Malformed(HeaderLen+IDsLen, "PRESENCE without a PE checksum parameter")
		}
	case TypeHandleTableResp, TypeHandleUpdate:
		known := is(ParamPoolHandle, ParamPoolElement)
		if m.Type == TypeHandleTableResp {
			known = is(ParamPoolHandle, ParamPoolElement, ParamXHandoff)
		}
		if ps, err = w.filter(ps, known); err != nil {
			return err
		}
		for _, p := range ps {
			if p.typ == ParamXHandoff {
				if m.Handoff != nil {
					return Malformed(p.off, "two hand-off parameters in a HANDLE_TABLE_RESPONSE")
				}
				if m.Handoff, err = w.handoff(p, m.Type); err != nil {
					return err
				}
				continue
			}
			if p.typ == ParamPoolHandle {
				if len(p.val) == 0 {
					return Malformed(p.off, "empty pool handle")
				}
				if n := len(m.Entries); n > 0 && len(m.Entries[n-1].Elements) == 0 {
					return Malformed(p.off, "pool handle %q without elements", m.Entries[n-1].Handle)
				}
				m.Entries = append(m.Entries, Entry{Handle: clone(p.val)})
				continue
			}
			if len(m.Entries) == 0 {
				return Malformed(p.off, "pool element before any pool handle")
			}
			pe, err := w.pe(p)
			if err != nil {
				return err
			}
			last := &m.Entries[len(m.Entries)-1]
			last.Elements = append(last.Elements, *pe)
		}
		if n := len(m.Entries); n > 0 && len(m.Entries[n-1].Elements) == 0 {
			return Malformed(HeaderLen+IDsLen, "pool handle %q without elements", m.Entries[n-1].Handle)
		}
		if m.Type == TypeHandleUpdate && (len(m.Entries) != 1 || len(m.Entries[0].Elements) != 1) {
			return Malformed(HeaderLen+IDsLen+4, "HANDLE_UPDATE with %d elements, want one pool handle and one element", m.ElementCount())
		}
		if m.Type == TypeHandleTableResp && m.Has(FlagReject) && (len(m.Entries) > 0 || m.Handoff != nil) {
			return Malformed(1, "rejecting HANDLE_TABLE_RESPONSE with %d elements", m.ElementCount())
		}
	case TypeListResponse:
		if ps, err = w.filter(ps, is(ParamServerInfo)); err != nil {
			return err
		}
		for _, p := range ps {
			s, err := w.serverInfo(p)
			if err != nil {
				return err
			}
			m.Servers = append(m.Servers, *s)
		}
	case TypeError:
		if ps, err = w.filter(ps, is(ParamOpError, ParamXRefused)); err != nil {
			return err
		}
		ops := 0
		for _, p := range ps {
			switch {
			case p.typ == ParamOpError:
				ops++
				if m.Causes, err = w.causes(p); err != nil {
					return err
				}
			case m.Refused != nil:
				return Malformed(p.off, "ERROR with two refused-request parameters")
			default:
				if m.Refused, err = w.refused(p); err != nil {
					return err
				}
			}
		}
		if ops != 1 {
			return Malformed(HeaderLen+IDsLen, "ERROR with %d operation error parameters, want 1", ops)
		}
	default: // requests and takeover messages have no parameters
		if _, err = w.filter(ps, func(uint16) bool { return false }); err != nil {
			return err
		}
	}
	return nil
}

// Pages lays n elements out as HANDLE_TABLE_RESPONSE pages marked h (a
// copy each): at most size elements and about maxBytes encoded bytes a
// page, consecutive elements of one pool in one entry; the last page
// with kind last (instead of h.Kind) when last is not 0, and then one
// empty page if there is no element. elem gives element i and its pool,
// or ok false to leave it out.
func Pages(h *Handoff, last uint8, size, maxBytes, n int, elem func(i int) (pool string, pe PE, ok bool)) []*Message {
	var pages []*Message
	var cur *Message
	count, bytes := 0, 0
	for i := range n {
		pool, pe, ok := elem(i)
		if !ok {
			continue
		}
		sz := pe.MaxSize() + 8
		if cur != nil && (count >= size || bytes+sz+ParamHeaderLen+Pad4(len(pool)) > maxBytes) {
			cur = nil
		}
		if cur == nil {
			hh := *h
			cur = &Message{Type: TypeHandleTableResp, Handoff: &hh}
			pages = append(pages, cur)
			count, bytes = 0, HeaderLen+IDsLen+12
		}
		lastEntry := len(cur.Entries) - 1
		if lastEntry < 0 || string(cur.Entries[lastEntry].Handle) != pool {
			cur.Entries = append(cur.Entries, Entry{Handle: []byte(pool), Elements: make([]PE, 0, min(size-count, n-i))})
			bytes += ParamHeaderLen + Pad4(len(pool))
			lastEntry++
		}
		cur.Entries[lastEntry].Elements = append(cur.Entries[lastEntry].Elements, pe)
		count++
		bytes += sz
	}
	if last != 0 {
		if len(pages) == 0 {
			hh := *h
			pages = append(pages, &Message{Type: TypeHandleTableResp, Handoff: &hh})
		}
		pages[len(pages)-1].Handoff.Kind = last
	}
	return pages
}
