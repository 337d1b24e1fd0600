package placement

import "slices"

// HandedBack returns a test of which zone-file elements registrar self,
// with live its live set, gets handed back when the registrars back
// (cut off from it, or that found it dead) are live with it again: those
// homed at self then that one of back homes without self (it took them
// when it lost self, and hands them back when it hears it again). One
// homed on self's side without self is left out: at a heal whose sides
// hear each other one by one, it may go to another of self's side
// first, its hand-back with it.
func HandedBack(self uint32, live, back []uint32) func(pool string, id uint32) bool {
	all := slices.Compact(slices.Sorted(slices.Values(append(slices.Clone(live), back...))))
	others := slices.DeleteFunc(slices.Clone(all), func(id uint32) bool { return id == self })
	return func(pool string, id uint32) bool {
		return Rendezvous(all, pool, id) == self && slices.Contains(back, Rendezvous(others, pool, id))
	}
}
