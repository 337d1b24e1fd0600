package main

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"go.uber.org/goleak"
)

// The tests here are the unit tests of the daemon's own helpers and the
// tests that run a daemon inside the test's process (ops_test.go); the
// tests that run the built binary as processes are in test/e2e.

// TestMain fails the tests that pass when they leave a goroutine running.
func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		// The tests that run a daemon in this process leave no goroutine
		// behind.
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// writeFile writes content to dir/name, creating directories.
func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
