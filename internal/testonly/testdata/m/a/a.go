// Package a declares the functions the fixture test judges.
package a

import "fmt"

// Used is called by package b's production code.
func Used() int { return 1 }

// OnlyOwnTests is called by a's tests only.
func OnlyOwnTests() int { return 2 }

// OnlyOtherTests is called by b's tests only.
func OnlyOtherTests() int { return 3 }

// Helped is called by the test helper package only.
func Helped() int { return 4 }

// T is a type whose methods are reached through interfaces.
type T struct{ err error }

// String is fmt.Stringer's: fmt calls it.
func (T) String() string { return "t" }

// Unwrap is called by errors.Is and errors.As.
func (t T) Unwrap() error { return t.err }

// Error makes T an error.
func (t T) Error() string { return fmt.Sprint(t.err) }

// Direct is called directly by b.
func (T) Direct() {}

// Idle is called by nothing but a's tests.
func (T) Idle() int { return 0 }

// Shower is b's interface that T satisfies.
func (T) Show() string { return "shown" }
