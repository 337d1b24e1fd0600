package policy

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests when a goroutine that one of them
// started is still running once they have all returned (goleak waits a
// little for goroutines on their way out, and prints the stacks of those
// that stay). The policies' spies (spy_test.go) are registered first.
func TestMain(m *testing.M) {
	registerSpies()
	goleak.VerifyTestMain(m)
}
