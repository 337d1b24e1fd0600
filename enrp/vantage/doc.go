// Package vantage keeps the books of health confirmations between
// registrars for package enrp's Node: the rounds a home asks for (who
// was asked, who answered what, until when) and the admission of the
// peers' requests a registrar carries out (a rate per peer, a bound on
// the probes in flight, rate-limited refusals). It is pure bookkeeping
// on the caller's clock: no I/O, no messages, no wall clock.
//
// # Basics
//
// A Round is one confirmation: the health published when it began
// (Current), the one the home's probes propose (Proposed), the Votes in
// so far (the home's own first), the vantage points still Waiting, and
// its Deadline. Answer, Refused and Forget take a vantage point's
// answer, refusal or death and report when nobody is left to wait for;
// the caller decides then, or at the deadline, with
// placement.Quorum over the Votes.
//
// A Gate admits the peers' requests: Allow takes a token of the asker's
// bucket (Bucket: Rate a second up to Burst), Full says whether
// MaxInFlight requests are being carried out, Start, Done and Expire
// track them until their budget ends, and Refuse says whether one more
// refusal may go out to a peer (RefusalRate, RefusalBurst), the rest
// being dropped without a word.
//
// # Caveats
//
// Neither is safe for concurrent use; the Node holds them. The maths of
// who is asked, how long they get and how the votes decide is package
// placement's.
package vantage
