package b

import (
	"testing"

	"example.com/m/a"
)

func TestB(t *testing.T) {
	if a.OnlyOtherTests() != 3 {
		t.Fail()
	}
}
