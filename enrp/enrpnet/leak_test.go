package enrpnet_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests when a goroutine that one of them
// started (a driver's loop, reader, writer or dialler) is still running
// once they have all returned.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
