package cookie

// Action is what to do with a query, by its cookie (see Decide).
type Action uint8

const (
	// Answer: look the query up and answer it. The reply carries a COOKIE
	// option (AppendOption) when the status HasClient.
	Answer Action = iota
	// FormErr: answer FORMERR without looking the query up; the reply has
	// an OPT record without COOKIE (RFC 7873 §5.2.2).
	FormErr
	// BadCookie: answer BADCOOKIE (extended RCODE 23: 7 in the header and
	// 1 in the OPT record's extended RCODE) without looking the query up:
	// no records, the question repeated, and a COOKIE option with a fresh
	// server cookie (AppendOption), so that the client retries with it
	// (RFC 7873 §5.2.3, §5.3).
	BadCookie
	// Truncate: answer with TC=1 and no records (the response rate
	// limiter's slip), so that a real client retries over TCP.
	Truncate
)

var actionNames = [...]string{"answer", "formerr", "badcookie", "truncate"}

// String names the action ("badcookie").
func (a Action) String() string {
	if int(a) < len(actionNames) {
		return actionNames[a]
	}
	return "action(?)"
}

// Decide returns what to do with a query whose COOKIE status is st (None
// when it had no COOKIE option), over TCP (or TLS) or UDP. It is the
// server policy that RFC 7873 §5.2 leaves to the server; poolnsd does not
// require cookies:
//
//	status      | UDP       | TCP, TLS
//	None        | Answer    | Answer
//	Malformed   | FormErr   | FormErr
//	ClientOnly  | Answer    | Answer
//	Invalid     | BadCookie | Answer
//	Valid       | Answer    | Answer
//	ValidRenew  | Answer    | Answer
//
// A client cookie alone is answered (§5.2.3 choice 3), so that a client
// learns the server cookie without a round trip more. An invalid server
// cookie over UDP gets BADCOOKIE (§5.2.4 with §5.2.3 choice 2): the client
// speaks cookies and holds a stale one (a rotation, a registrar with
// another secret, a clock far off); BADCOOKIE gives it a fresh cookie in a
// reply no larger than its query plus the cookie, and a forged cookie gets
// no amplified answer. Over TCP a BADCOOKIE could loop (§5.3), and TCP
// already proves the address, so the query is answered (§5.2.3).
//
// The response rate limit applies after Decide, to UDP replies whose
// status is not Verified; when it slips a reply, SlipAction says how.
func Decide(st Status, tcp bool) Action {
	switch st {
	case Malformed:
		return FormErr
	case Invalid:
		if !tcp {
			return BadCookie
		}
	}
	return Answer
}

// SlipAction returns how to send a reply that the response rate limiter
// slips (rrl.Slip) for a query of status st: BadCookie when the query had a
// client cookie (the fresh server cookie in it exempts the client's retry
// from the limit, RFC 7873 §5.2.3 choice 2 "including rate limiting"),
// else Truncate (TC=1: the client retries over TCP).
func SlipAction(st Status) Action {
	if st.HasClient() {
		return BadCookie
	}
	return Truncate
}
