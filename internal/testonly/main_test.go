package testonly

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"testing"
)

// childEnv marks the test process that TestMain started again.
const childEnv = "POOLNSD_TESTONLY_ONE_P"

// TestMain runs the tests again in a process with GOMAXPROCS=1, so that
// go/packages type-checks one package at a time: its type checkers share
// the imported packages' types, and go/types completes those lazily with
// a data race (golang/go#81122, open in go1.26) that the race detector
// reports and that can give malformed types. go/packages sizes its limit
// on concurrent type checks from GOMAXPROCS when it is initialised, before
// any code of the test runs; hence the second process.
func TestMain(m *testing.M) {
	if runtime.GOMAXPROCS(0) == 1 || os.Getenv(childEnv) != "" {
		os.Exit(m.Run())
	}
	cmd := exec.Command(os.Args[0], os.Args[1:]...)
	cmd.Env = append(os.Environ(), "GOMAXPROCS=1", childEnv+"=1")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			os.Exit(ee.ExitCode())
		}
		fmt.Fprintln(os.Stderr, "testonly: run the tests with GOMAXPROCS=1:", err)
		os.Exit(2)
	}
	os.Exit(0)
}
