package geosite

import "math"

// Distance returns the great-circle distance in kilometres between two
// points given in degrees (on a sphere of the Earth's mean radius).
func Distance(lat1, lon1, lat2, lon2 float64) float64 {
	const r = 6371.0088
	rad := math.Pi / 180
	return r * centralAngle(lat1*rad, lon1*rad, lat2*rad, lon2*rad)
}

// Errors receives the watch's errors (events lost); it goes on watching.
func (w *Watcher) Errors() <-chan error { return w.errs }
