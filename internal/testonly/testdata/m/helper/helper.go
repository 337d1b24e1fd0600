// Package helper is a test helper: its code counts as tests'.
package helper

import "example.com/m/a"

// H calls a.Helped.
func H() int { return a.Helped() }
