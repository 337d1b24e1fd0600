package a

import "testing"

func TestA(t *testing.T) {
	if OnlyOwnTests() != 2 || (T{}).Idle() != 0 {
		t.Fail()
	}
}
