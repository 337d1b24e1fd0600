// Package testonly holds a test that fails when an exported function or
// method of poolnsd is called by tests only (issue 16: no production code
// for the tests alone).
//
// # Basics
//
// TestNoNewTestOnlyExports type-checks every package of the module with
// its tests (golang.org/x/tools/go/packages) and lists the exported
// functions and methods that no production file refers to: only test
// files, test helper packages (internal/hstest, enrp/enrptest, …) and
// nothing at all. A method of a type that implements an interface with
// that method (any interface in sight: the module's, the standard
// library's, errors' Unwrap, Is and As) counts as used. The client library
// poolclient is for programs outside the module and is not judged. The
// functions still test-only are listed, each with its reason, in known:
// a new one fails the test, and so does one on the list that is no longer
// test-only.
//
// # Caveats
//
// A method called only through reflection (a template, say) would look
// test-only; none is today. The test loads the whole module: about 15 s
// with a warm build cache. It runs in a process of its own with
// GOMAXPROCS=1 (TestMain), which type-checks one package at a time:
// go/types races when go/packages checks several at once
// (golang/go#81122).
package testonly
