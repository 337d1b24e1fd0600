package main

import (
	"runtime/debug"
	"testing"
)

// TestGCDefaults: without GOGC in the environment serve sets 200; with
// it, the runtime's value (which it read from there) stays.
func TestGCDefaults(t *testing.T) {
	was := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(was) })
	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "1GiB") // not touched either way
	if got, _ := gcDefaults(); got != defaultGOGC || debug.SetGCPercent(defaultGOGC) != defaultGOGC {
		t.Errorf("without GOGC: %d, want %d", got, defaultGOGC)
	}
	t.Setenv("GOGC", "77")
	debug.SetGCPercent(77) // as the runtime does at start with GOGC=77
	if got, _ := gcDefaults(); got != 77 || debug.SetGCPercent(77) != 77 {
		t.Errorf("with GOGC=77: %d, want 77 kept", got)
	}
}
