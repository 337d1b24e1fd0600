package wire

import "testing"

// TestDescribeCauses: each cause by name (or code), its diagnostic text
// if it carries one, separated by "; ".
func TestDescribeCauses(t *testing.T) {
	for _, tc := range []struct {
		cs   []Cause
		want string
	}{
		{nil, ""},
		{[]Cause{{Code: CauseSecurity}}, "rejection due to security considerations"},
		{[]Cause{{Code: CauseInvalidValues, Info: DiagParam("length 3, below 4")}, {Code: 0x4242}},
			"invalid values: length 3, below 4; cause 16962"},
		{[]Cause{{Code: CauseUnrecognizedParam, Info: []byte{0x80, 0x01, 0x00, 0x04}}}, "unrecognized parameter"},
	} {
		if got := DescribeCauses(tc.cs); got != tc.want {
			t.Errorf("DescribeCauses(%v) = %q, want %q", tc.cs, got, tc.want)
		}
	}
}
