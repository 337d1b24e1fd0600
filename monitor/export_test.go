package monitor

import "time"

// LocalRTT returns the smoothed RTT of this registrar's samples of an
// element, if it samples it and a sample has passed.
func (m *Monitor) LocalRTT(pool string, id uint32) (time.Duration, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.samples[Key(pool, id)]
	if s == nil || s.srtt == 0 {
		return 0, false
	}
	return s.srtt, true
}
