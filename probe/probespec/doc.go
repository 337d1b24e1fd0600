// Package probespec is the grammar of health probes: their kinds, how a
// zone file writes one (probe=KIND[:TARGET]) and what each kind's target
// says. It is the one place where that grammar is written: package zones
// checks zone files with it and package probe's checkers read their
// targets with it, so that a target a zone file accepts is one the
// prober understands. It imports no poolnsd package.
//
// # Basics
//
// Parse reads the written form and returns the kind and the target in the
// form the checkers read (defaults filled in, names in lower case).
// Validate checks a target for its kind; ParseHTTP and ParseDNS return
// what an http, https or dns target asks for.
//
// # Caveats
//
// Errors say what is wrong and what was expected, without a position:
// Parse's SyntaxError gives the offset in the written text, which the
// caller turns into its own position (zones: file:line:col).
package probespec
