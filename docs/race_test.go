//go:build race

package docs_test

// The tests run with -race: the poolnsd they build is built with it too,
// which reuses the race build's cache rather than compiling everything a
// second time.
func init() { raceBuild = true }
