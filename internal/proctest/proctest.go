// Package proctest runs a program (the built poolnsd, in practice) as a
// real process, for the process tests and the benchmark programs, and
// waits on what it logs.
//
// Each line the process writes to its standard error is kept, and parsed
// as a record when it is a JSON object (poolnsd's log.format json). A
// waiter names the line to look from (0, or a Cursor taken before the
// action whose effect it waits for) and a match function; any number of
// waiters may wait on one process at once. Waits are bounded: by a
// duration, or by a context.
//
// Caveat: every line is kept until the Proc is dropped, so a process that
// logs without end is for a bounded run only.
package proctest

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// Errors of the waits.
var (
	// ErrExited: the process ended before it logged what was awaited
	// (everything it wrote was looked at).
	ErrExited = errors.New("proctest: the process exited")
	// ErrTimeout: the wait's limit passed first.
	ErrTimeout = errors.New("proctest: time is up")
)

// Rec is one JSON log record.
type Rec map[string]any

// Str returns the string field k ("" if there is none, or it is not a
// string).
func (r Rec) Str(k string) string { s, _ := r[k].(string); return s }

// MsgIs matches the records whose msg is msg.
func MsgIs(msg string) func(Rec) bool {
	return func(r Rec) bool { return r.Str("msg") == msg }
}

// Proc is a started process whose standard error is being read.
type Proc struct {
	// Cmd is the running command: signal it through Cmd.Process.
	Cmd *exec.Cmd

	mu      sync.Mutex
	lines   []string      // the lines of standard error, without newlines
	recs    []Rec         // lines[i] parsed, nil where it is not a JSON object
	changed chan struct{} // closed (and replaced) when a line comes
	done    chan struct{} // closed once the process has exited and all it wrote is read
	code    int           // exit code, once done
}

// Start starts cmd, whose Stderr must be nil: the Proc reads it. tee, when
// not nil, gets a copy of each line (with its newline) as it is read.
func Start(cmd *exec.Cmd, tee io.Writer) (*Proc, error) {
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &Proc{Cmd: cmd, changed: make(chan struct{}), done: make(chan struct{})}
	go p.read(stderr, tee)
	return p, nil
}

func (p *Proc) read(stderr io.Reader, tee io.Writer) {
	sc := bufio.NewScanner(stderr)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if tee != nil {
			tee.Write(append(sc.Bytes(), '\n'))
		}
		r := parse(sc.Bytes())
		p.mu.Lock()
		p.lines = append(p.lines, sc.Text())
		p.recs = append(p.recs, r)
		close(p.changed)
		p.changed = make(chan struct{})
		p.mu.Unlock()
	}
	// A line longer than the scanner takes ends the reading: drain the
	// rest, so that the process never blocks on a full pipe.
	io.Copy(io.Discard, stderr)
	p.Cmd.Wait()
	p.mu.Lock()
	p.code = p.Cmd.ProcessState.ExitCode()
	p.mu.Unlock()
	close(p.done)
}

// parse returns line as a record, or nil if it is not a JSON object.
func parse(line []byte) Rec {
	var r Rec
	if json.Unmarshal(line, &r) != nil {
		return nil
	}
	return r
}

// Cursor returns the number of lines read so far: a wait from it looks only
// at what comes after.
func (p *Proc) Cursor() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.lines)
}

// Records returns the records of lines from to to (nil entries where a
// line is not JSON); to is capped at what has been read.
func (p *Proc) Records(from, to int) []Rec {
	p.mu.Lock()
	defer p.mu.Unlock()
	to = min(to, len(p.recs))
	if from >= to {
		return nil
	}
	return append([]Rec(nil), p.recs[from:to]...)
}

// Log returns every line read so far, joined by newlines.
func (p *Proc) Log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.lines, "\n")
}

// Tail returns the last n lines read, joined by newlines.
func (p *Proc) Tail(n int) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.lines[max(0, len(p.lines)-n):], "\n")
}

// Wait waits up to limit for the first record at line from or later that
// match accepts, and returns it with the line after it (where the next
// wait for a later record starts). match must not call p's methods (it is
// called with p's lock held).
func (p *Proc) Wait(from int, limit time.Duration, match func(Rec) bool) (Rec, int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	return p.WaitContext(ctx, from, match)
}

// WaitContext is Wait until ctx ends. Its error is ErrExited, or ErrTimeout
// when ctx ends first (whatever the reason).
func (p *Proc) WaitContext(ctx context.Context, from int, match func(Rec) bool) (Rec, int, error) {
	var found Rec
	i, err := p.waitFor(ctx, from, func(i int) bool {
		found = p.recs[i]
		return found != nil && match(found)
	})
	if err != nil {
		return nil, i, err
	}
	return found, i + 1, nil
}

// WaitLine is Wait for a line of any form, which match gets without its
// newline.
func (p *Proc) WaitLine(from int, limit time.Duration, match func(string) bool) (string, int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	var found string
	i, err := p.waitFor(ctx, from, func(i int) bool {
		found = p.lines[i]
		return match(found)
	})
	if err != nil {
		return "", i, err
	}
	return found, i + 1, nil
}

// waitFor returns the index of the first line from from on that ok
// accepts, or the index it got to with the error. ok is called with p.mu
// held: it may read p.lines and p.recs.
func (p *Proc) waitFor(ctx context.Context, from int, ok func(i int) bool) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for {
		for ; from < len(p.lines); from++ {
			if ok(from) {
				return from, nil
			}
		}
		changed := p.changed
		p.mu.Unlock()
		select {
		case <-changed:
			p.mu.Lock()
		case <-p.done:
			// Everything is read: one more look, then give up.
			p.mu.Lock()
			for ; from < len(p.lines); from++ {
				if ok(from) {
					return from, nil
				}
			}
			return from, ErrExited
		case <-ctx.Done():
			p.mu.Lock()
			return from, ErrTimeout
		}
	}
}

// Done is closed once the process has exited and its output is read.
func (p *Proc) Done() <-chan struct{} { return p.done }

// ExitCode returns the process's exit code (-1 if a signal ended it); it
// is meaningful once Done is closed.
func (p *Proc) ExitCode() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.code
}

// WaitExit waits up to limit for the process to exit and returns its exit
// code, or ErrTimeout.
func (p *Proc) WaitExit(limit time.Duration) (int, error) {
	t := time.NewTimer(limit)
	defer t.Stop()
	select {
	case <-p.done:
		return p.ExitCode(), nil
	case <-t.C:
		return -1, ErrTimeout
	}
}

// Stop sends the process sig and waits up to grace for it to exit, then
// kills it; it returns once the process has exited.
func (p *Proc) Stop(sig os.Signal, grace time.Duration) {
	p.Cmd.Process.Signal(sig)
	if _, err := p.WaitExit(grace); err != nil {
		p.Kill()
	}
}

// Kill kills the process, unless it has exited, and waits for the end.
func (p *Proc) Kill() {
	select {
	case <-p.done:
	default:
		p.Cmd.Process.Kill()
		<-p.done
	}
}

// LookTool finds a program a test needs: without it the test fails, naming
// the Debian package pkg to install, except under -short, where it is
// skipped.
func LookTool(t testing.TB, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if testing.Short() {
		t.Skipf("%s is not installed (apt-get install %s); skipped under -short", name, pkg)
	}
	t.Fatalf("%s is not installed: apt-get install %s (scripts/deps.sh does)", name, pkg)
	return ""
}

// How long the DNS tools a test runs wait. They are bounds for a server
// that does not answer, not expectations of how soon one does: on a
// loaded machine a starved dig takes seconds to run at all (3 to 8 s of
// wall time for 80 ms of CPU at a load average of 30 on 2 cores), and
// when it runs again its timer can fire before it reads a reply that is
// already there ("timed out" with a 2-second wait, the answer sent).
const (
	// ToolWait is dig's and kdig's wait for an answer, in seconds, and
	// nsupdate's (-t ToolWait).
	ToolWait = "10"
	// ToolTime is the option of dig and kdig for ToolWait.
	ToolTime = "+time=" + ToolWait
	// ToolLimit is when a test kills a DNS tool that still runs: after
	// a few of its waits, for tools that ask more than once.
	ToolLimit = 60 * time.Second
)

// APIDo makes a request of a poolnsd HTTP API at url, with body (JSON; none
// if empty) and token as its bearer token (none if empty), and returns the
// answer's status and body.
func APIDo(t testing.TB, method, url, token, body string) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	return resp.StatusCode, b
}

// Buffer is a buffer that a process (or a daemon in the test's process)
// writes and the test reads.
type Buffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *Buffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *Buffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
