package wire

import "strconv"

// Wire constants of RFC 5353 (messages) and RFC 5354 (parameters), with
// RFC 5356 policy types and poolnsd's own extension parameters.

// Port is the ENRP port (IANA "enrp-sctp", "enrp-udp"); poolnsd
// uses it for TCP too.
const Port = 9901

// Type is an ENRP message type (RFC 5353 §2).
type Type uint8

// Message types.
const (
	TypePresence           Type = 0x01 // ENRP_PRESENCE
	TypeHandleTableRequest Type = 0x02 // ENRP_HANDLE_TABLE_REQUEST
	TypeHandleTableResp    Type = 0x03 // ENRP_HANDLE_TABLE_RESPONSE
	TypeHandleUpdate       Type = 0x04 // ENRP_HANDLE_UPDATE
	TypeListRequest        Type = 0x05 // ENRP_LIST_REQUEST
	TypeListResponse       Type = 0x06 // ENRP_LIST_RESPONSE
	TypeInitTakeover       Type = 0x07 // ENRP_INIT_TAKEOVER
	TypeInitTakeoverAck    Type = 0x08 // ENRP_INIT_TAKEOVER_ACK
	TypeTakeoverServer     Type = 0x09 // ENRP_TAKEOVER_SERVER
	TypeError              Type = 0x0a // ENRP_ERROR
)

var typeNames = map[Type]string{
	TypePresence:           "PRESENCE",
	TypeHandleTableRequest: "HANDLE_TABLE_REQUEST",
	TypeHandleTableResp:    "HANDLE_TABLE_RESPONSE",
	TypeHandleUpdate:       "HANDLE_UPDATE",
	TypeListRequest:        "LIST_REQUEST",
	TypeListResponse:       "LIST_RESPONSE",
	TypeInitTakeover:       "INIT_TAKEOVER",
	TypeInitTakeoverAck:    "INIT_TAKEOVER_ACK",
	TypeTakeoverServer:     "TAKEOVER_SERVER",
	TypeError:              "ERROR",
}

func (t Type) String() string {
	if s, ok := typeNames[t]; ok {
		return s
	}
	return "TYPE_" + strconv.Itoa(int(t))
}

// Message flags. Each is a bit of the flags byte and means something only
// in the message types named.
const (
	// FlagReplyRequired (R) in PRESENCE: the receiver must answer with a
	// PRESENCE of its own.
	FlagReplyRequired uint8 = 0x01
	// FlagOwnChildrenOnly (W) in HANDLE_TABLE_REQUEST: send only the pool
	// elements whose home the receiver is.
	FlagOwnChildrenOnly uint8 = 0x01
	// FlagReject (R) in HANDLE_TABLE_RESPONSE and LIST_RESPONSE: the request
	// was refused.
	FlagReject uint8 = 0x01
	// FlagMoreToSend (M) in HANDLE_TABLE_RESPONSE: the table goes on; ask
	// again for the next part.
	FlagMoreToSend uint8 = 0x02
)

// UpdateAction is the action of a HANDLE_UPDATE.
type UpdateAction uint16

// Update actions (RFC 5353).
const (
	AddPE UpdateAction = 0 // ADD_PE: add or update the element
	DelPE UpdateAction = 1 // DEL_PE: remove the element
)

func (a UpdateAction) String() string {
	switch a {
	case AddPE:
		return "ADD_PE"
	case DelPE:
		return "DEL_PE"
	}
	return "ACTION_" + strconv.Itoa(int(a))
}

// Parameter types (RFC 5354), and poolnsd's own.
const (
	ParamIPv4         uint16 = 0x0001
	ParamIPv6         uint16 = 0x0002
	ParamDCCP         uint16 = 0x0003
	ParamSCTP         uint16 = 0x0004
	ParamTCP          uint16 = 0x0005
	ParamUDP          uint16 = 0x0006
	ParamUDPLite      uint16 = 0x0007
	ParamPolicy       uint16 = 0x0008 // member selection policy
	ParamPoolHandle   uint16 = 0x0009
	ParamPoolElement  uint16 = 0x000a
	ParamServerInfo   uint16 = 0x000b
	ParamOpError      uint16 = 0x000c
	ParamCookie       uint16 = 0x000d
	ParamPEIdentifier uint16 = 0x000e
	ParamPEChecksum   uint16 = 0x000f

	// poolnsd's extension parameters. Their top two bits are 10: a
	// receiver that does not know them skips them silently (RFC 5354),
	// so what poolnsd sends stays plain ENRP to everyone else.

	// ParamXElement, inside a Pool Element parameter, holds what DNS
	// answers need beyond RFC 5354: sub-parameters ParamXLabel, ParamXSite,
	// ParamXState, ParamXValues, ParamXProbe, ParamXOwner, ParamXLease,
	// ParamXAdminReq, ParamXReportReq, ParamXConfirmReq, ParamXConfirmAns,
	// ParamXVantage, ParamXReports and further IPv4/IPv6 address
	// parameters.
	ParamXElement uint16 = 0x8f01
	// ParamXDigest, in a PRESENCE, holds the sender's ownership digest: the
	// number of elements it owns and a 64-bit hash of their contents.
	ParamXDigest uint16 = 0x8f02
	// ParamXDiag, in an Operation Error cause, says in words what was wrong.
	ParamXDiag uint16 = 0x8f03
	// ParamXRefused, in an ERROR beside its Operation Error parameter,
	// names the request that the ERROR refuses (see Refused), so that the
	// asker can answer whoever is waiting on it at once.
	ParamXRefused uint16 = 0x8f04

	ParamXLabel  uint16 = 0x8f10 // the element's own DNS label
	ParamXSite   uint16 = 0x8f11 // site= of the element
	ParamXState  uint16 = 0x8f12 // health, admin, flags, strength, ownership generation, RTT
	ParamXValues uint16 = 0x8f13 // weight, priority, load, load degradation
	ParamXProbe  uint16 = 0x8f14 // the element's own probe settings
	ParamXOwner  uint16 = 0x8f15 // who registered the element ("tsig:KEY", "http")
	ParamXLease  uint16 = 0x8f16 // the lease last granted, in seconds
	// ParamXAdminReq marks a HANDLE_UPDATE as a request to the element's
	// home to set its administrative state (1 byte: the state, 3 reserved)
	// rather than news of the element: see enrp.Node.RequestAdmin. A peer that
	// does not know it skips it (top bits 10) and takes the message for a
	// non-home's word on an element, which changes nothing there.
	ParamXAdminReq uint16 = 0x8f17
	// ParamXReportReq marks a HANDLE_UPDATE as a pool user's failure
	// report (RFC 5352 ENDPOINT_UNREACHABLE) passed on to the element's
	// home: its value is the reporter's address (4 or 16 bytes, none if
	// unknown), by which the home rate-limits and counts reports. See
	// enrp.Node.RequestReport. A peer that does not know it skips it, as it
	// does ParamXAdminReq.
	ParamXReportReq uint16 = 0x8f18
	// ParamXConfirmReq marks a HANDLE_UPDATE from an element's home as a
	// request to probe the element once, now, and say what the probe saw
	// (health confirmation from another vantage point): a nonce (4
	// bytes), the time the home waits for the answer in milliseconds (2
	// bytes), the health the home's own probes propose (1 byte) and one
	// reserved byte. See enrp.Node.Confirm. A peer that does not know it skips
	// it and takes the message for the home's word on its own element,
	// which is what it is.
	ParamXConfirmReq uint16 = 0x8f19
	// ParamXConfirmAns marks a HANDLE_UPDATE to an element's home as the
	// answer to its ParamXConfirmReq: the nonce (4 bytes), the health the
	// probe saw (1 byte: 0 when it could not probe), 3 reserved bytes and
	// the probe's RTT in microseconds (4 bytes). A home that does not
	// know it skips it and ignores a non-home's word on its element.
	ParamXConfirmAns uint16 = 0x8f1a
	// ParamXVantage, in an element's extension, lists what the vantage
	// points of the element's last confirmation saw when they disagreed
	// (the element is disputed): 8 bytes each, a registrar ID, the health
	// it saw (1 byte) and 3 reserved bytes. Absent when they agreed.
	ParamXVantage uint16 = 0x8f1b
	// ParamXHandoff, beside the pool handles and elements of a
	// HANDLE_TABLE_RESPONSE, makes it a page of a hand-off (the sender
	// gives the receiver the home of the elements it carries, with their
	// state) and, in a PRESENCE, acknowledges one: a kind (1 byte:
	// HandoffPage, HandoffLast, HandoffAck, HandbackPage, SyncPage,
	// SyncLast), a flags byte (HandoffDelta; zero before, ignored by
	// a peer that does not know it), the number of live registrars the sender saw while it held
	// the elements (2 bytes) and the hand-off's sequence number (4
	// bytes). See Handoff. A peer that does not know it skips it: an
	// unasked-for table response is dropped, a PRESENCE read as usual.
	ParamXHandoff uint16 = 0x8f1c
	// ParamXReports, in an element's extension in a hand-off page, is
	// how many failure reports of the element its old home counted within
	// the report window (4 bytes), for the new home to go on counting.
	ParamXReports uint16 = 0x8f1d
)

// Unknown-parameter actions, the top two bits of a parameter type
// (RFC 5354).
const (
	actionMask       uint16 = 0xc000
	actionStop       uint16 = 0x0000 // discard the message
	actionStopReport uint16 = 0x4000 // discard the message, report the parameter
	actionSkip       uint16 = 0x8000 // skip the parameter
	actionSkipReport uint16 = 0xc000 // skip the parameter, report it
)

// Transport use of a transport parameter (RFC 5354).
const (
	UseDataOnly       uint16 = 0
	UseDataAndControl uint16 = 1
)

// Cause codes of an Operation Error parameter (RFC 5354).
const (
	CauseUnrecognizedParam   uint16 = 0x1
	CauseUnrecognizedMessage uint16 = 0x2
	CauseInvalidValues       uint16 = 0x3
	CauseNonUniquePEID       uint16 = 0x4
	CausePolicyInconsistent  uint16 = 0x5
	CauseLackOfResources     uint16 = 0x6
	CauseTransportMismatch   uint16 = 0x7
	CauseDataControlMismatch uint16 = 0x8
	CauseUnknownPoolHandle   uint16 = 0x9
	CauseSecurity            uint16 = 0xa
)

// Member selection policy types (RFC 5356), and poolnsd's own for
// the policies RFC 5356 does not have.
const (
	PolicyRoundRobin         uint32 = 0x00000001 // rr: no value
	PolicyWeightedRoundRobin uint32 = 0x00000002 // wrr: weight
	PolicyRandom             uint32 = 0x00000003 // rand: no value
	PolicyWeightedRandom     uint32 = 0x00000004 // wrand: weight
	PolicyPriority           uint32 = 0x00000005 // prio: priority
	PolicyLeastUsed          uint32 = 0x40000001 // lu: load
	PolicyLeastUsedDeg       uint32 = 0x40000002 // lud: load, load degradation
	PolicyPriorityLeastUsed  uint32 = 0x40000003 // plu: load, load degradation
	PolicyRandomLeastUsed    uint32 = 0x40000004 // rlu: load

	// RSPLIB's policies beyond RFC 5356, under RSPLIB's types
	// (rserpool-policytypes.h) and with its value layouts
	// (rserpoolmessage.h). RSPLIB defines no layout for plu-dpf and
	// plud-dpf; poolnsd gives them lud-dpf's.
	PolicyRandomPriorityLeastUsed    uint32 = 0xb0001001 // rplu: load, load degradation
	PolicyRandomLeastUsedDeg         uint32 = 0xb0001002 // rlud: load, load degradation
	PolicyPriorityLeastUsedDeg       uint32 = 0xb0001003 // plud: load, load degradation
	PolicyRandomPriorityLeastUsedDeg uint32 = 0xb0001004 // rplud: load, load degradation
	PolicyWeightedRandomDPF          uint32 = 0xb0002001 // wrand-dpf: weight, weight DPF, distance
	PolicyLeastUsedDPF               uint32 = 0xb0002002 // lu-dpf: load, load DPF, distance
	PolicyLeastUsedDegDPF            uint32 = 0xb0002003 // lud-dpf: load, load degradation, load DPF, distance
	PolicyPriorityLeastUsedDPF       uint32 = 0xb0002004 // plu-dpf: load, load degradation, load DPF, distance
	PolicyPriorityLeastUsedDegDPF    uint32 = 0xb0002005 // plud-dpf: load, load degradation, load DPF, distance

	// PolicyXHash is poolnsd's hash (client-subnet affinity): no value.
	PolicyXHash uint32 = 0xff504e01
	// PolicyXNearest is poolnsd's nearest (lowest RTT): no value; the
	// RTT and site travel in ParamXState and ParamXSite.
	PolicyXNearest uint32 = 0xff504e02
)

// Sizes on the wire, in bytes: what a message is framed by and what an
// encoder counts to fill a page.
const (
	HeaderLen      = 4 // type, flags, length
	IDsLen         = 8 // sending and receiving server's ID
	ParamHeaderLen = 4 // type, length
	maxMessage     = 65535
)
