// Package metered counts in poolnsd's metrics what passes through the
// parts that take requests from outside: registrations (Registrar, around
// the regcommit.Committer that DNS UPDATE and the HTTP API submit to) and
// the HTTP API's failure reports and administrative changes (Backend,
// around the API's backend), and peering's takeovers, hand-offs, health
// confirmations and peers (PeeringEvent, Verdict, PeerStates, for the
// ENRP driver's hooks). The wrappers change nothing of what they wrap:
// they return what it returns.
//
// # Basics
//
// Registrar counts each Submit by source (DNS UPDATE when the owner is a
// TSIG key, "tsig:…", else HTTP): a registration or refresh and a
// deregistration per element done, or one refusal with its cause
// (RejectCause). Backend counts a failure report by its outcome
// (ReportOutcome) and an administrative change that changed the state.
// ReportOutcome also labels the reports that peers pass on (the admin
// package counts those). PeeringEvent counts the takeover and hand-off
// events by outcome and direction; Verdict a confirmation by outcome
// (moved, alone, overruled, disputed, agreed: the first that holds);
// PeerStatus names a peer's state (left before dead before suspect), and
// PeerStates counts the peers by it.
//
// # Caveats
//
// RejectCause reads some causes from the error's text (regcommit's
// Refused errors carry no finer code); a new refusal message of regcommit
// counts as "forbidden" until it is added there. Backend reads the
// element's state before the change to tell a change from a repeat, so
// two concurrent changes of one element may both count.
package metered
