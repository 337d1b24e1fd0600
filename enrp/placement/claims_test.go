package placement

import (
	"testing"
	"time"
)

func TestLaterAndWins(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		a, b time.Time
		want bool
	}{
		{t0.Add(LeaseSkew + time.Millisecond), t0, true},
		{t0.Add(LeaseSkew), t0, false}, // within the skew: the same registration
		{t0, t0.Add(2 * LeaseSkew), false},
		{time.Time{}, t0, true}, // no lease: later than any
		{t0, time.Time{}, false},
		{time.Time{}, time.Time{}, false},
	} {
		if got := Later(tc.a, tc.b); got != tc.want {
			t.Errorf("Later(%v, %v) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
	if !Wins(2, 9, 1, 1) || Wins(1, 1, 2, 9) || !Wins(1, 1, 1, 2) || Wins(1, 2, 1, 1) || Wins(1, 1, 1, 1) {
		t.Error("Wins: want the higher generation, then the lower registrar ID, and no claim over itself")
	}
}
