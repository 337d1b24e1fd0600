//go:build race

package main

// The daemon under test is built with the race detector when the tests are.
func init() { raceBuild = true }
