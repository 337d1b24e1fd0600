package proctest_test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/poolnsd/poolnsd/internal/proctest"
	"go.uber.org/goleak"
)

const limit = 10 * time.Second

// TestMain runs the helper process when this test binary is started as
// one (PROCTEST_HELPER set): it logs the lines its arguments say.
// Otherwise it runs the tests and fails them when a goroutine one of them
// started (a process's log reader) is still running after the last.
func TestMain(m *testing.M) {
	if os.Getenv("PROCTEST_HELPER") == "" {
		goleak.VerifyTestMain(m)
		return
	}
	for _, a := range os.Args[1:] {
		switch {
		case a == "wait-stdin": // until the test closes its stdin
			os.Stdin.Read(make([]byte, 1))
		case strings.HasPrefix(a, "exit="):
			var code int
			fmt.Sscan(strings.TrimPrefix(a, "exit="), &code)
			os.Exit(code)
		default:
			fmt.Fprintln(os.Stderr, a)
		}
	}
	os.Exit(0)
}

// helper starts this test binary as the helper process with args.
func helper(t *testing.T, args ...string) (*proctest.Proc, func()) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "PROCTEST_HELPER=1", "GORACE=atexit_sleep_ms=0")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	p, err := proctest.Start(cmd, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Kill)
	return p, func() { stdin.Close() }
}

func TestWait(t *testing.T) {
	var tee strings.Builder
	var teeMu sync.Mutex
	cmd := exec.Command(os.Args[0], "plain text", `{"msg":"a","n":1}`, `{"msg":"b"}`, `{"msg":"a","n":2}`, "exit=3")
	cmd.Env = append(os.Environ(), "PROCTEST_HELPER=1", "GORACE=atexit_sleep_ms=0")
	p, err := proctest.Start(cmd, writerFunc(func(b []byte) (int, error) {
		teeMu.Lock()
		defer teeMu.Unlock()
		return tee.Write(b)
	}))
	if err != nil {
		t.Fatal(err)
	}
	r, next, err := p.Wait(0, limit, proctest.MsgIs("a"))
	if err != nil || r["n"] != 1.0 || next != 2 {
		t.Fatalf("first a: %v at %d, %v; want n=1, next line 2", r, next, err)
	}
	r, next, err = p.Wait(next, limit, proctest.MsgIs("a"))
	if err != nil || r["n"] != 2.0 || next != 4 {
		t.Fatalf("second a: %v at %d, %v; want n=2, next line 4", r, next, err)
	}
	if l, n, err := p.WaitLine(0, limit, func(l string) bool { return strings.HasPrefix(l, "plain") }); l != "plain text" || n != 1 || err != nil {
		t.Errorf("plain line: %q at %d, %v; want the first line", l, n, err)
	}
	if _, _, err := p.Wait(next, limit, proctest.MsgIs("a")); !errors.Is(err, proctest.ErrExited) {
		t.Errorf("a third a: %v, want ErrExited", err)
	}
	if code, err := p.WaitExit(limit); code != 3 || err != nil {
		t.Errorf("exit %d, %v; want 3", code, err)
	}
	if got := p.Records(0, 100); len(got) != 4 || got[0] != nil || got[2].Str("msg") != "b" {
		t.Errorf("records %v, want nil (not JSON), a, b, a", got)
	}
	if got := p.Tail(2); got != "{\"msg\":\"b\"}\n{\"msg\":\"a\",\"n\":2}" {
		t.Errorf("tail %q", got)
	}
	teeMu.Lock()
	if want := p.Log() + "\n"; tee.String() != want {
		t.Errorf("tee got %q, want every line %q", tee.String(), want)
	}
	teeMu.Unlock()
}

// TestWaiters: waiters on one process all wake for the line they wait for,
// a wait times out, and Stop ends a process that is still running.
func TestWaiters(t *testing.T) {
	p, release := helper(t, "wait-stdin", `{"msg":"late"}`, "wait-stdin")
	if _, _, err := p.Wait(0, 50*time.Millisecond, proctest.MsgIs("late")); !errors.Is(err, proctest.ErrTimeout) {
		t.Fatalf("wait before the line: %v, want ErrTimeout", err)
	}
	from := p.Cursor()
	var wg sync.WaitGroup
	errs := make(chan error, 3)
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, err := p.Wait(from, limit, proctest.MsgIs("late"))
			errs <- err
		}()
	}
	release() // the helper logs "late", then waits again (its stdin is closed: at once)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("a waiter: %v", err)
		}
	}
	if code, err := p.WaitExit(limit); code != 0 || err != nil {
		t.Errorf("exit %d, %v; want 0", code, err)
	}

	// A process that waits: Stop ends it (with the signal).
	q, _ := helper(t, "wait-stdin")
	q.Stop(os.Interrupt, limit)
	select {
	case <-q.Done():
	default:
		t.Fatal("Stop returned before the process ended")
	}
	if code := q.ExitCode(); code != -1 {
		t.Errorf("exit code %d after SIGINT, want -1 (a signal)", code)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }
