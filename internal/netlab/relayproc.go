package netlab

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Relay is the delaying packet relay at the heart of a Net (the kernel
// here has no netem). Every packet one node sends to another is routed by
// the hub to a TUN device; the relay reads it, holds it for the one-way
// delay between the two nodes' sites, and writes it back, and the hub
// routes it on. It carries everything between nodes (peering, probes,
// registrations' propagation), whatever the protocol, with no change of
// address, so that a probe's TCP connect or a peer's TLS session sees the
// delay and nothing else. A cut (Net.Split) makes it drop the packets
// between groups of nodes: a partition that the endpoints cannot tell
// from a real one.
//
// The relay is a process of its own (this test binary run again, see
// Main), inside the hub's namespace, at real-time round-robin priority
// (chrt -r) when it can be: it plays the network, so it must keep time
// whatever the test's process or the machine is doing (in the test's
// process, behind its checker, a relay was late by seconds). Its packets
// cost it about 20 µs of CPU each. Relay is the test's handle on it.
//
// The checker's own traffic (DNS questions, registrations, status
// requests) leaves from the hub itself and does not cross the relay.
type Relay struct {
	cmd *exec.Cmd

	mu   sync.Mutex // one command at a time
	in   io.WriteCloser
	out  *bufio.Reader
	errs *strings.Builder
	done chan struct{}
	// RealTime reports whether the relay runs at real-time priority.
	RealTime bool
}

// helperEnv names the environment variable that makes the test binary
// the relay process (see Main).
const helperEnv = "NETLAB_HELPER"

// Main runs the relay process when this process was started as one, and
// exits; otherwise it returns at once. Call it first in TestMain of every
// package that uses a Net.
func Main() {
	if os.Getenv(helperEnv) != "relay" {
		return
	}
	if err := relayMain(os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "netlab relay:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// relayMain is the relay process: it opens the TUN device named by
// NETLAB_TUN in its namespace, with the delays of NETLAB_DELAYS (a JSON
// matrix of nanoseconds), says "ready", and then runs commands, one a
// line, until its input ends:
//
//	place PREFIX NODE SITE    packets of PREFIX are NODE's, in SITE
//	cut A B 1|0               drop (1) or pass (0) the packets between nodes A and B
//	mark                      answer the counts since the last mark (JSON)
//	stats                     answer the counts so far (JSON)
//
// Each command is answered with one line: "ok", the JSON, or "error: ...".
func relayMain(in io.Reader, out io.Writer) error {
	var delay [][]time.Duration
	if err := json.Unmarshal([]byte(os.Getenv("NETLAB_DELAYS")), &delay); err != nil {
		return fmt.Errorf("NETLAB_DELAYS: %v", err)
	}
	f, err := openTUN(os.Getenv("NETLAB_TUN"))
	if err != nil {
		return err
	}
	e := newEngine(f, delay)
	defer e.close()
	w := bufio.NewWriter(out)
	fmt.Fprintln(w, "ready")
	w.Flush()
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		reply := "ok"
		switch {
		case len(f) == 4 && f[0] == "place":
			p, err1 := netip.ParsePrefix(f[1])
			node, err2 := strconv.Atoi(f[2])
			site, err3 := strconv.Atoi(f[3])
			if err := errors.Join(err1, err2, err3); err != nil {
				reply = "error: " + err.Error()
				break
			}
			e.place(p, node, site)
		case len(f) == 4 && f[0] == "cut":
			a, err1 := strconv.Atoi(f[1])
			b, err2 := strconv.Atoi(f[2])
			if err := errors.Join(err1, err2); err != nil {
				reply = "error: " + err.Error()
				break
			}
			e.setCut(a, b, f[3] == "1")
		case len(f) == 1 && (f[0] == "mark" || f[0] == "stats"):
			st := e.Stats()
			if f[0] == "mark" {
				st = e.Mark()
			}
			b, _ := json.Marshal(st)
			reply = string(b)
		default:
			reply = fmt.Sprintf("error: unknown command %q", sc.Text())
		}
		fmt.Fprintln(w, reply)
		w.Flush()
	}
	return sc.Err()
}

// startRelay starts the relay process in the hub's namespace with the
// TUN device tun and the delays, and waits until it is ready.
func startRelay(hub *ns, tun string, delay [][]time.Duration) (*Relay, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	b, _ := json.Marshal(delay)
	env := append(os.Environ(), helperEnv+"=relay", "NETLAB_TUN="+tun, "NETLAB_DELAYS="+string(b))
	// Real-time round robin if chrt can set it, else at Nice.
	for _, rt := range []bool{true, false} {
		var cmd *exec.Cmd
		if rt {
			cmd = hub.Command("chrt", "--rr", "10", exe)
		} else {
			cmd = hub.Command(exe)
		}
		cmd.Env = env
		r, err := runRelay(cmd)
		if err == nil {
			r.RealTime = rt
			return r, nil
		}
		if !rt {
			return nil, err
		}
	}
	panic("unreachable")
}

// runRelay starts cmd as the relay and waits for its "ready".
func runRelay(cmd *exec.Cmd) (*Relay, error) {
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	outp, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	errs := &strings.Builder{}
	cmd.Stderr = &lockedWriter{w: errs}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("netlab: start the relay: %v", err)
	}
	r := &Relay{cmd: cmd, in: in, out: bufio.NewReader(outp), errs: errs, done: make(chan struct{})}
	go func() { cmd.Wait(); close(r.done) }()
	line, err := r.out.ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "ready" {
		in.Close()
		cmd.Process.Kill()
		<-r.done
		return nil, fmt.Errorf("netlab: the relay did not start: %q %v: %s", line, err, r.errs.String())
	}
	return r, nil
}

// lockedWriter is a writer safe for the relay's stderr copier and a
// reader of it.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// do sends one command and returns its answer.
func (r *Relay) do(format string, args ...any) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, err := fmt.Fprintf(r.in, format+"\n", args...); err != nil {
		return "", fmt.Errorf("netlab: the relay: %v", err)
	}
	line, err := r.out.ReadString('\n')
	if err != nil {
		return "", fmt.Errorf("netlab: the relay: %v", err)
	}
	line = strings.TrimSpace(line)
	if rest, ok := strings.CutPrefix(line, "error: "); ok {
		return "", fmt.Errorf("netlab: the relay: %s", rest)
	}
	return line, nil
}

func (r *Relay) place(p netip.Prefix, node, site int) error {
	_, err := r.do("place %s %d %d", p, node, site)
	return err
}

func (r *Relay) setCut(a, b int, on bool) error {
	v := 0
	if on {
		v = 1
	}
	_, err := r.do("cut %d %d %d", a, b, v)
	return err
}

func (r *Relay) stats(cmd string) RelayStats {
	line, err := r.do(cmd)
	var st RelayStats
	if err == nil {
		err = json.Unmarshal([]byte(line), &st)
	}
	if err != nil {
		st.Err = err.Error()
	}
	return st
}

// Stats returns the relay's counts so far.
func (r *Relay) Stats() RelayStats { return r.stats("stats") }

// Mark returns the relay's counts since the previous Mark (or its start),
// with the latest packet of that span.
func (r *Relay) Mark() RelayStats { return r.stats("mark") }

// close ends the relay process (its input ends; it is killed if it does
// not exit within a second).
func (r *Relay) close() {
	r.in.Close()
	select {
	case <-r.done:
	case <-time.After(time.Second):
		r.cmd.Process.Kill()
		<-r.done
	}
}
