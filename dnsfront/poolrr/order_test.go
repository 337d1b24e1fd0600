package poolrr

import (
	"testing"

	"github.com/poolnsd/poolnsd/handlespace"
)

// TestOrder: the SRV (and URI) priority and weight of an element, by
// the way a policy's order is shown (Mode), in DNS terms.
func TestOrder(t *testing.T) {
	const full = handlespace.LoadFull
	el := func(weight uint32, load, deg uint32, last bool) Weights {
		return WeightsOf(&handlespace.Element{Weight: weight, Load: load, LoadDeg: deg, Last: last})
	}
	for _, c := range []struct {
		name         string
		mode         Mode
		rank         int
		e            Weights
		prio, weight uint16
	}{
		{"rank 0", Rank, 0, el(5, 0, 0, false), 0, 0},
		{"rank 3", Rank, 3, el(5, 0, 0, false), 3, 0},
		{"rank past 65535", Rank, 70000, el(5, 0, 0, false), 65535, 0},
		{"weight", Weight, 2, el(5, 0, 0, false), 0, 5},
		{"weight over 16 bits", Weight, 2, el(100000, 0, 0, false), 0, 65535},
		{"weight, disputed", Weight, 0, el(5, 0, 0, true), 1, 5},
		{"rand", Equal, 4, el(5, full/2, 0, false), 0, 1},
		{"rand, disputed", Equal, 0, el(5, 0, 0, true), 1, 1},
		{"rlu idle", Free, 1, el(1, 0, 0, false), 0, 65535},
		{"rlu 75 % loaded", Free, 1, el(1, handlespace.LoadFromFraction(0.75), 0, false), 0, 16384},
		{"rlu almost full: at least 1", Free, 1, el(1, full-1, 0, false), 0, 1},
		{"rlu full: last", Free, 0, el(1, full, 0, false), 1, 1},
		{"rlu, disputed", Free, 0, el(1, 0, 0, true), 1, 65535},
		{"rplu: load and loaddeg", FreeDeg, 1, el(1, handlespace.LoadFromFraction(0.5), handlespace.LoadFromFraction(0.25), false), 0, 16384},
		{"rplu: loaddeg fills it", FreeDeg, 1, el(1, handlespace.LoadFromFraction(0.5), handlespace.LoadFromFraction(0.75), false), 1, 1},
		{"rplu ignores loaddeg in rlu", Free, 1, el(1, handlespace.LoadFromFraction(0.5), handlespace.LoadFromFraction(0.75), false), 0, 32768},
	} {
		prio, weight := Order(c.mode, c.rank, &c.e)
		if prio != c.prio || weight != c.weight {
			t.Errorf("%s: priority %d weight %d, want %d %d", c.name, prio, weight, c.prio, c.weight)
		}
	}
	for policy, want := range map[string]Mode{"rr": Rank, "prio": Rank, "lu": Rank, "lud": Rank,
		"rlud": Rank, "rplud": Rank, "wrand-dpf": Rank, "hash": Rank, "nearest": Rank,
		"wrr": Weight, "wrand": Weight, "rand": Equal, "rlu": Free, "rplu": FreeDeg} {
		if got := ModeOf(policy); got != want {
			t.Errorf("ModeOf(%q) = %d, want %d", policy, got, want)
		}
	}
}
