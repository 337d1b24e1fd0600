package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

// raceBuild is set by race_test.go when the tests run with -race.
var raceBuild bool

// binary is the poolnsd built by TestMain.
var binary string

// TestMain builds poolnsd once; the tests run it as a real process. It
// fails the tests that pass when they leave a goroutine running (their
// clients, servers and backends).
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "poolnsd-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "poolnsd")
	// go test puts its own GOROOT/bin first in the PATH of the tests.
	gobin, err := exec.LookPath("go")
	if err != nil {
		fmt.Fprintln(os.Stderr, "the go command, to build poolnsd:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	args := []string{"build", "-o", binary}
	if raceBuild {
		args = append(args, "-race")
	}
	build := exec.Command(gobin, append(args, "github.com/poolnsd/poolnsd/cmd/poolnsd")...)
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	if code == 0 {
		// The clients, servers and backends of the tests leave no
		// goroutine behind.
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// testEnv is the environment of the processes under test: the tests' own,
// without POOLNSD_ variables, and without the race detector's one-second
// wait at a successful exit.
func testEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "POOLNSD_") && !strings.HasPrefix(kv, "GORACE=") && !strings.HasPrefix(kv, "NOTIFY_SOCKET=") {
			env = append(env, kv)
		}
	}
	return append(env, "GORACE=atexit_sleep_ms=0 halt_on_error=1")
}

// runPoolnsd runs poolnsd with args in dir to completion.
func runPoolnsd(t *testing.T, dir string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Dir = dir
	cmd.Env = testEnv()
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if err != nil {
		if _, ok := err.(*exec.ExitError); !ok {
			t.Fatalf("run poolnsd %q: %v", args, err)
		}
	}
	return o.String(), e.String(), cmd.ProcessState.ExitCode()
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
