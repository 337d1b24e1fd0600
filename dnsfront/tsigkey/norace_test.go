//go:build !race

package tsigkey

const raceOn = false
