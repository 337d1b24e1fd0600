// Package walls holds no code: its test reads the module's import graph
// (go list -deps -json ./...) and fails when a package depends on one that
// it must not, so that the layering of docs/design.md (section The walls)
// holds by test, not by review. The rules are the table walls in
// walls_test.go, each with the reason for it.
// size_test.go keeps every package of the module under 4 000 lines of
// non-test Go code.
package walls
