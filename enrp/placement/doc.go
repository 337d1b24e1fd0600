// Package placement holds the pure functions of where an element lives
// among the registrars and who judges its health: rendezvous hashing
// over the live set, and the quorum of the vantage points' votes. Package
// enrp's Node and the handlespace binding (enrp/bind) call them; every
// registrar must compute the same from the same inputs.
//
// # Basics
//
// Rendezvous returns the home of a zone-file element: the live registrar
// with the highest hash of (registrar, pool, identifier), ties to the
// lower ID. RendezvousOrder ranks all of them so; Vantages takes the
// first n after the home, the registrars an element's home asks to
// confirm a change of its health. Quorum decides that health from their
// Votes (up or down; unknown does not count) and says whether the element
// is disputed. Later, Wins and Guard are the rules between copies of a
// registration.
//
// # Caveats
//
// The hash (FNV-1a finished with a splitmix64 step) is part of the
// protocol: registrars that hashed differently would disagree on homes.
// Removing a registrar from the live set moves only the elements it was
// home of.
package placement
