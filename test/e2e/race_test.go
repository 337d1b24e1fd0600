//go:build race

package e2e

// The daemon under test is built with the race detector when the tests are.
func init() { raceBuild = true }
