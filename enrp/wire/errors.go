package wire

import (
	"encoding/binary"
	"errors"
	"strconv"
)

var causeNames = map[uint16]string{
	CauseUnrecognizedParam:   "unrecognized parameter",
	CauseUnrecognizedMessage: "unrecognized message",
	CauseInvalidValues:       "invalid values",
	CauseNonUniquePEID:       "non-unique PE identifier",
	CausePolicyInconsistent:  "inconsistent pooling policy",
	CauseLackOfResources:     "lack of resources",
	CauseTransportMismatch:   "inconsistent transport type",
	CauseDataControlMismatch: "inconsistent data/control configuration",
	CauseUnknownPoolHandle:   "unknown pool handle",
	CauseSecurity:            "rejection due to security considerations",
}

// CauseText names an error cause code.
func CauseText(code uint16) string {
	if s, ok := causeNames[code]; ok {
		return s
	}
	return "cause " + strconv.Itoa(int(code))
}

// DiagText returns the text of a ParamXDiag parameter at the start of info,
// "" if there is none.
func DiagText(info []byte) string {
	if len(info) < ParamHeaderLen || binary.BigEndian.Uint16(info) != ParamXDiag {
		return ""
	}
	n := int(binary.BigEndian.Uint16(info[2:]))
	if n < ParamHeaderLen || n > len(info) {
		return ""
	}
	return string(info[ParamHeaderLen:n])
}

// DescribeCauses says what the causes of an ERROR are, each with its
// diagnostic text if it carries one, separated by "; ".
func DescribeCauses(cs []Cause) string {
	s := ""
	for i, c := range cs {
		if i > 0 {
			s += "; "
		}
		s += CauseText(c.Code)
		if d := DiagText(c.Info); d != "" {
			s += ": " + d
		}
	}
	return s
}

// DiagParam returns a ParamXDiag parameter carrying text (at most 200
// bytes of it).
func DiagParam(text string) []byte {
	if len(text) > 200 {
		text = text[:200]
	}
	e := &enc{}
	e.bytesParam(ParamXDiag, []byte(text))
	return e.b
}

// ErrorFor returns the ERROR message that answers a message that Decode
// refused with err (from sender, to receiver: the IDs as far as known), or
// nil when none is due (a message discarded without a report).
//
// A malformed message gets cause "invalid values", whose information is
// poolnsd's diagnostic parameter saying what was wrong: the bad bytes
// themselves are not sent back, so that the ERROR itself is well-formed. An
// unknown message type gets "unrecognized message" with the message's
// first bytes; a parameter that asks for it gets "unrecognized parameter"
// with the parameter.
func ErrorFor(err error, sender, receiver uint32) *Message {
	var de *DecodeError
	if !errors.As(err, &de) {
		return &Message{Type: TypeError, Sender: sender, Receiver: receiver,
			Causes: []Cause{{Code: CauseInvalidValues, Info: DiagParam(err.Error())}}}
	}
	m := &Message{Type: TypeError, Sender: sender, Receiver: receiver}
	switch {
	case errors.Is(de.Kind, ErrMalformed):
		m.Causes = []Cause{{Code: CauseInvalidValues, Info: DiagParam(de.Error())}}
	case errors.Is(de.Kind, ErrUnknownType):
		m.Causes = []Cause{{Code: CauseUnrecognizedMessage, Info: unknownMessageInfo(de.Report)}}
	case len(de.Report) > 0:
		for _, r := range de.Report {
			m.Causes = append(m.Causes, Cause{Code: CauseUnrecognizedParam, Info: r})
		}
	default:
		return nil
	}
	return m
}

// unknownMessageInfo is the information of an "unrecognized message"
// cause: the message's first bytes, with its length field saying how many
// there are (so that a dissector reading it as a message stays inside).
func unknownMessageInfo(report [][]byte) []byte {
	if len(report) == 0 || len(report[0]) < HeaderLen {
		return nil
	}
	b := clone(report[0])
	b = b[:len(b)&^3]
	binary.BigEndian.PutUint16(b[2:], uint16(len(b)))
	return b
}

// ReportUnrecognized returns the ERROR that reports the parameters m
// skipped with a request to report them (m.Unrecognized), or nil.
func ReportUnrecognized(m *Message, self uint32) *Message {
	if len(m.Unrecognized) == 0 {
		return nil
	}
	e := &Message{Type: TypeError, Sender: self, Receiver: m.Sender}
	for _, r := range m.Unrecognized {
		e.Causes = append(e.Causes, Cause{Code: CauseUnrecognizedParam, Info: r})
	}
	return e
}
