// Package wire is the ENRP codec: RFC 5353 messages with RFC 5354
// parameters, in bytes and back, with poolnsd's extension parameters
// (ParamX*) for what DNS answers need beyond RFC 5354. It does no I/O and
// keeps no state; package enrp's Node speaks it, and its driver frames it
// on TCP.
//
// # Basics
//
//   - Message, Encode (AppendEncode) and Decode, for all ten RFC 5353
//     message types; MessageLen reads a message's length from its first
//     HeaderLen bytes, for framing on a stream. Equal compares two
//     messages as the wire sees them.
//   - Decode never panics; its errors are *DecodeError (Kind
//     ErrMalformed, ErrUnknownType or ErrDiscarded, with the offset and
//     what is wrong). ErrorFor turns one into the ERROR that answers it,
//     ReportUnrecognized the ERROR that reports skipped parameters, and
//     DiagParam and DiagText carry a readable reason in an ERROR's cause.
//   - PE is a pool element parameter, with poolnsd's ElementX beside the
//     RFC 5354 fields; ToPE and FromPE convert between it and a
//     handlespace.Element, PolicyType and PolicyName between policy names
//     and RFC 5356 (and RSPLIB) policy types, ContentHash is an element's
//     digest term.
//   - The RFC 5353 ownership checksum: ElementSum, SumAcc (kept
//     incrementally) and Checksum (from scratch).
//
// # Caveats
//
// Parameters of unknown type are handled by their top two bits (RFC 5354
// §2.2): skipped, skipped and reported, or the whole message discarded.
// An older poolnsd skips the extension parameters it does not know, so
// each is optional for the receiver. Error texts keep the "enrp:" prefix
// of the protocol they belong to.
package wire
