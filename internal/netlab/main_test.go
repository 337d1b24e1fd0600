package netlab

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain runs the lab process when this test binary is started as one
// (Main); otherwise it runs the tests and fails them when a goroutine one
// of them started (a checker's reader, a backend's server, the wait on a
// lab process) is still running after the last.
func TestMain(m *testing.M) {
	Main()
	goleak.VerifyTestMain(m)
}
