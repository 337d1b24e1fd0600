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
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/poolnsd/poolnsd/internal/netlab/backend"
	"github.com/poolnsd/poolnsd/internal/netlab/relay"
)

// The lab process: the world outside the registrars. It is this test
// binary run again (see Main) inside the hub's namespace, at real-time
// round-robin priority (chrt --rr) when it can be, at labprio.Nice otherwise, and
// runs the relay's engine (the network) and the backends' servers (the
// pool elements). They must keep time as hardware would, whatever the
// test's own process (the checker, decoding status documents) or the rest
// of the machine is doing: inside the test's process, on a loaded
// machine, the relay delivered packets up to 6 s late and the backends
// answered probes up to 0.8 s late, and the registrars' probes timed out
// by the hundred. The test drives the lab process over a pipe (Relay and
// Backends are its handles) and the lab process keeps the probe records,
// which the test queries in batches.

// labProc is the test's end of the lab process's pipe.
type labProc struct {
	cmd *exec.Cmd

	mu   sync.Mutex // one command at a time
	in   io.WriteCloser
	out  *bufio.Reader
	errs *lockedBuilder
	done chan struct{}
	// realTime reports whether the lab process runs at real-time
	// priority.
	realTime bool
}

// helperEnv names the environment variable that makes the test binary
// the lab process (see Main).
const helperEnv = "NETLAB_HELPER"

// Main runs the lab process when this process was started as one, and
// exits; otherwise it returns at once. Call it first in TestMain of every
// package that uses a Net.
func Main() {
	if os.Getenv(helperEnv) != "lab" {
		return
	}
	if err := helperMain(os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "netlab lab process:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// helperMain is the lab process: it opens the TUN device named by
// NETLAB_TUN in its namespace, with the delays of NETLAB_DELAYS (a JSON
// matrix of nanoseconds), says "ready", and then runs commands, one a
// line, until its input ends. Each is answered with one line: "ok", a
// value, JSON, or "error: ...". Times are Unix nanoseconds.
//
//	place PREFIX NODE SITE    packets of PREFIX are NODE's, in SITE
//	cut A B 1|0               drop (1) or pass (0) the packets between nodes A and B
//	mark | stats              the relay's counts since the last mark, or so far (JSON)
//	serve NETNS PORT          a backend server on 0.0.0.0:PORT in namespace NETNS
//	set ADDR STATE            element ADDR becomes alive, dead or frozen; answers the time
//	state ADDR                element ADDR's state
//	probes ADDR SINCE         its probes at or after SINCE (JSON [{"t": time, "f": from}, ...])
//	probedby FROM SINCE UNTIL the elements FROM probed in [SINCE, UNTIL) (JSON)
//	takeover FROM AT ADDR,... for each, how long after AT another than FROM first probed it (JSON, -1: nobody)
//	maxgap FROM TO ADDR,...   for each, the longest time without a probe in [FROM, TO] (JSON)
func helperMain(in io.Reader, out io.Writer) error {
	var delay [][]time.Duration
	if err := json.Unmarshal([]byte(os.Getenv("NETLAB_DELAYS")), &delay); err != nil {
		return fmt.Errorf("NETLAB_DELAYS: %v", err)
	}
	fd, err := relay.OpenTUN(os.Getenv("NETLAB_TUN"))
	if err != nil {
		return err
	}
	if p := os.Getenv("NETLAB_LAB_PROFILE"); p != "" {
		// A CPU profile of the lab process, for whoever tunes it.
		pf, err := os.Create(p)
		if err != nil {
			return err
		}
		pprof.StartCPUProfile(pf)
		defer func() { pprof.StopCPUProfile(); pf.Close() }()
	}
	e, err := relay.New(fd, delay)
	if err != nil {
		return err
	}
	defer e.Close()
	srv := backend.New()
	defer srv.Close()
	w := bufio.NewWriter(out)
	fmt.Fprintln(w, "ready")
	w.Flush()
	sc := bufio.NewScanner(in)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		reply, err := helperCommand(e, srv, strings.Fields(sc.Text()))
		if err != nil {
			reply = "error: " + err.Error()
		}
		fmt.Fprintln(w, reply)
		w.Flush()
	}
	return sc.Err()
}

// helperCommand runs one command of the lab process.
func helperCommand(e *relay.Engine, srv *backend.Server, f []string) (string, error) {
	if len(f) == 0 {
		return "", errors.New("empty command")
	}
	n := func(i int) int64 { v, _ := strconv.ParseInt(f[i], 10, 64); return v }
	at := func(i int) time.Time { return time.Unix(0, n(i)) }
	addr := func(i int) netip.Addr { a, _ := netip.ParseAddr(f[i]); return a }
	addrs := func(i int) []netip.Addr {
		var out []netip.Addr
		for _, s := range strings.Split(f[i], ",") {
			if a, err := netip.ParseAddr(s); err == nil {
				out = append(out, a)
			}
		}
		return out
	}
	js := func(v any) (string, error) { b, err := json.Marshal(v); return string(b), err }
	want := map[string]int{"place": 4, "cut": 4, "mark": 1, "stats": 1, "serve": 3, "set": 3, "state": 2,
		"probes": 3, "probedby": 4, "takeover": 4, "maxgap": 4}
	if k, ok := want[f[0]]; !ok || k != len(f) {
		return "", fmt.Errorf("bad command %q", strings.Join(f, " "))
	}
	switch f[0] {
	case "place":
		p, err := netip.ParsePrefix(f[1])
		if err != nil {
			return "", err
		}
		e.Place(p, int(n(2)), int(n(3)))
	case "cut":
		e.SetCut(int(n(1)), int(n(2)), f[3] == "1")
	case "mark":
		return js(e.Mark())
	case "stats":
		return js(e.Stats())
	case "serve":
		if err := serveBackend(srv, f[1], int(n(2))); err != nil {
			return "", err
		}
	case "set":
		s, ok := map[string]ElementState{"alive": Alive, "dead": Dead, "frozen": Frozen}[f[2]]
		if !ok {
			return "", fmt.Errorf("bad state %q", f[2])
		}
		return strconv.FormatInt(srv.Set(addr(1), s).UnixNano(), 10), nil
	case "state":
		return srv.State(addr(1)).String(), nil
	case "probes":
		out := []wireProbe{}
		for _, p := range srv.Probes(addr(1), at(2)) {
			out = append(out, wireProbe{T: p.At.UnixNano(), F: p.From})
		}
		return js(out)
	case "probedby":
		return js(srv.ProbedBy(addr(1), at(2), at(3)))
	case "takeover":
		return js(srv.Takeover(addrs(3), addr(1), at(2)))
	case "maxgap":
		var out []time.Duration
		for _, a := range addrs(3) {
			out = append(out, srv.MaxProbeGap(a, at(1), at(2)))
		}
		return js(out)
	}
	return "ok", nil
}

// startHelper starts the lab process (exe, or this binary again if "")
// in the hub's namespace with the TUN device tun and the delays, and
// waits until it is ready.
func startHelper(hub *ns, exe, tun string, delay [][]time.Duration) (*labProc, error) {
	if exe == "" {
		var err error
		if exe, err = os.Executable(); err != nil {
			return nil, err
		}
	}
	b, _ := json.Marshal(delay)
	env := append(os.Environ(), helperEnv+"=lab", "NETLAB_TUN="+tun, "NETLAB_DELAYS="+string(b))
	// Real-time round robin if chrt can set it, else at labprio.Nice (inherited).
	var errs []error
	for _, rt := range []bool{true, false} {
		var cmd *exec.Cmd
		if rt {
			cmd = hub.Command("chrt", "--rr", "10", exe)
		} else {
			cmd = hub.Command(exe)
		}
		cmd.Env = env
		h, err := runHelper(cmd)
		if err == nil {
			h.realTime = rt
			return h, nil
		}
		errs = append(errs, err)
	}
	return nil, errors.Join(errs...)
}

// runHelper starts cmd as the lab process and waits for its "ready".
func runHelper(cmd *exec.Cmd) (*labProc, error) {
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	outp, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	errs := &lockedBuilder{}
	cmd.Stderr = errs
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("netlab: start the lab process: %v", err)
	}
	h := &labProc{cmd: cmd, in: in, out: bufio.NewReader(outp), errs: errs, done: make(chan struct{})}
	go func() { cmd.Wait(); close(h.done) }()
	line, err := h.out.ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "ready" {
		in.Close()
		cmd.Process.Kill()
		<-h.done
		return nil, fmt.Errorf("netlab: the lab process did not start: %q %v: %s", line, err, errs.String())
	}
	return h, nil
}

// lockedBuilder is a strings.Builder safe for the lab process's stderr
// copier and a reader of it.
type lockedBuilder struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuilder) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuilder) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// do sends one command and returns its answer.
func (h *labProc) do(format string, args ...any) (string, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, err := fmt.Fprintf(h.in, format+"\n", args...); err != nil {
		return "", fmt.Errorf("netlab: the lab process: %v (%s)", err, h.errs.String())
	}
	line, err := h.out.ReadString('\n')
	if err != nil {
		return "", fmt.Errorf("netlab: the lab process: %v (%s)", err, h.errs.String())
	}
	line = strings.TrimSpace(line)
	if rest, ok := strings.CutPrefix(line, "error: "); ok {
		return "", fmt.Errorf("netlab: the lab process: %s", rest)
	}
	return line, nil
}

// doJSON sends one command and decodes its JSON answer into v.
func (h *labProc) doJSON(v any, format string, args ...any) error {
	line, err := h.do(format, args...)
	if err != nil {
		return err
	}
	return json.Unmarshal([]byte(line), v)
}

// close ends the lab process (its input ends; it is killed if it does not
// exit within a second).
func (h *labProc) close() {
	h.in.Close()
	select {
	case <-h.done:
	case <-time.After(time.Second):
		h.cmd.Process.Kill()
		<-h.done
	}
}
