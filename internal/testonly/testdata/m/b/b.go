// Package b uses package a.
package b

import "example.com/m/a"

// Shower is what b shows.
type Shower interface{ Show() string }

// F uses a from production code.
func F(s Shower) int {
	var t a.T
	t.Direct()
	_ = s.Show()
	return a.Used()
}
