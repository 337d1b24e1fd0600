package e2e

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/internal/nettest"
	"github.com/poolnsd/poolnsd/internal/proctest"
	"github.com/poolnsd/poolnsd/store"
)

// waitLimit bounds every wait for the daemon: no test sleeps, they wait for
// a log line or an exit, up to this long. Generous: under -race on a
// loaded machine a start has taken over 10 s.
const waitLimit = 30 * time.Second

// logRec is one JSON log line of the daemon.
type logRec = proctest.Rec

// daemonProc is a poolnsd process whose JSON log the test reads.
type daemonProc struct {
	*proctest.Proc
	t      *testing.T
	cmd    *exec.Cmd
	stdout *proctest.Buffer // what it printed
}

// startDaemon starts poolnsd serve in dir with args.
func startDaemon(t *testing.T, dir string, args ...string) *daemonProc {
	t.Helper()
	return startDaemonEnv(t, dir, nil, args...)
}

// startDaemonEnv starts poolnsd serve in dir with args and extra
// environment variables (KEY=value).
func startDaemonEnv(t *testing.T, dir string, env []string, args ...string) *daemonProc {
	t.Helper()
	return startProc(t, dir, env, "serve", args...)
}

// startProc starts poolnsd's subcommand sub (serve, demo) in dir with args
// and extra environment variables; its standard output goes to p.stdout.
// The process is killed at the end of the test if it still runs, and its
// log is printed if the test failed.
func startProc(t *testing.T, dir string, env []string, sub string, args ...string) *daemonProc {
	t.Helper()
	cmd := exec.Command(binary, append([]string{sub}, args...)...)
	cmd.Env = append(testEnv(), env...)
	return startCmd(t, cmd, dir, fmt.Sprintf("poolnsd serve %q", args))
}

// startCmd starts cmd, a poolnsd process (perhaps run by another command:
// chrt, ip netns exec), in dir, its standard output to p.stdout and its
// environment testEnv's unless set. The process is killed at the end of
// the test if it still runs, and its log, named by what, is printed if
// the test failed.
func startCmd(t *testing.T, cmd *exec.Cmd, dir, what string) *daemonProc {
	t.Helper()
	cmd.Dir = dir
	if cmd.Env == nil {
		cmd.Env = testEnv()
	}
	stdout := &proctest.Buffer{}
	cmd.Stdout = stdout
	pr, err := proctest.Start(cmd, nil)
	if err != nil {
		t.Fatal(err)
	}
	p := &daemonProc{Proc: pr, t: t, cmd: cmd, stdout: stdout}
	t.Cleanup(func() {
		p.Kill()
		if t.Failed() {
			t.Logf("%s log:\n%s", what, p.Log())
		}
	})
	return p
}

// cursor counts the log lines seen so far: waitLog looks only after it.
func (p *daemonProc) cursor() int { return p.Cursor() }

// hup sends p SIGHUP and waits for the first log record after it that
// match satisfies.
func (p *daemonProc) hup(what string, match func(logRec) bool) logRec {
	p.t.Helper()
	from := p.cursor()
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		p.t.Fatal(err)
	}
	r, _ := p.waitLog(from, what, match)
	return r
}

// waitLog waits for the first log record after line from that match
// satisfies, and returns it with the index after it.
func (p *daemonProc) waitLog(from int, what string, match func(logRec) bool) (logRec, int) {
	p.t.Helper()
	r, next, err := p.Wait(from, waitLimit, match)
	switch err {
	case nil:
		return r, next
	case proctest.ErrExited:
		p.t.Fatalf("poolnsd exited (code %d) before logging %s", p.ExitCode(), what)
	default:
		p.t.Fatalf("poolnsd did not log %s within %v", what, waitLimit)
	}
	return nil, next
}

var msgIs = proctest.MsgIs

// waitHealth waits until the last health change poolnsd logged for the
// element named name is to. A wait for the next change after a fault
// would miss an element that flapped there just before it (probes of
// 50 ms time out on a loaded machine): the state is what counts.
func (p *daemonProc) waitHealth(name, to string) {
	p.t.Helper()
	change := func(r logRec) bool { return r.Str("msg") == "health changed" && r.Str("name") == name }
	deadline := time.Now().Add(waitLimit)
	for {
		cur, last := p.cursor(), ""
		for _, r := range p.Records(0, cur) {
			if r != nil && change(r) {
				last = r.Str("to")
			}
		}
		if last == to {
			return
		}
		left := time.Until(deadline)
		if left <= 0 {
			p.t.Fatalf("poolnsd did not log %s %s within %v (last: %q)", name, to, waitLimit, last)
		}
		if _, _, err := p.Wait(cur, left, change); err == proctest.ErrExited {
			p.t.Fatalf("poolnsd exited (code %d) before logging %s %s", p.ExitCode(), name, to)
		}
	}
}

// waitExit waits up to limit for the process to exit and returns its code.
func (p *daemonProc) waitExit(limit time.Duration) int {
	p.t.Helper()
	code, err := p.WaitExit(limit)
	if err != nil {
		p.t.Fatalf("poolnsd did not exit within %v", limit)
	}
	return code
}

// ready waits for the ready line and returns the DNS address.
func (p *daemonProc) ready() (string, logRec) {
	p.t.Helper()
	r, _ := p.waitLog(0, "ready", msgIs("ready"))
	addrs, _ := r["dns"].([]any)
	if len(addrs) == 0 {
		p.t.Fatalf("ready line without DNS addresses: %v", r)
	}
	return addrs[0].(string), r
}

// startTries is how many times a test starts daemons whose addresses
// FreePort gave on new ports when one exits because an address of its
// was taken (startedOn): FreePort keeps a port from the kernel and from
// the other tests, not from a program that binds it by number.
const startTries = 3

// startedOn waits for p's ready line and reports true. It reports false
// when p exited first because an address it was to listen on was in use
// (its error says "address already in use"): the caller starts it again
// on other ports. Any other end fails the test.
func (p *daemonProc) startedOn() bool {
	p.t.Helper()
	_, _, err := p.Wait(0, waitLimit, msgIs("ready"))
	switch err {
	case nil:
		return true
	case proctest.ErrExited:
		for _, r := range p.Records(0, p.cursor()) {
			if r != nil && strings.Contains(r.Str("err"), "address already in use") {
				p.t.Logf("poolnsd exited (code %d): %s: %s", p.ExitCode(), r.Str("msg"), r.Str("err"))
				return false
			}
		}
		p.t.Fatalf("poolnsd exited (code %d) before logging ready", p.ExitCode())
	default:
		p.t.Fatalf("poolnsd did not log ready within %v", waitLimit)
	}
	return false
}

// restartLimit bounds how long whileTaken starts a server again on
// addresses of its that a program holds.
const restartLimit = 10 * time.Second

// whileTaken runs start until it reports that none of its addresses was
// taken (false), pausing between tries (50 ms, doubling up to 1 s), up
// to restartLimit, and returns how many times it ran; an address still
// taken then fails the test. It is for a server that must come back on
// the addresses the others already know (a peer started again after a
// kill or a stop, a peer that joins late, a test's own listener): unlike
// startPeers' peers, known to nobody yet, it cannot move to other ports.
// Its ports are FreePort's, held by the test till it ends, so only a
// program that binds a port by number can hold one, and such a hold is
// brief.
func whileTaken(t *testing.T, what string, start func() (taken bool)) int {
	t.Helper()
	deadline := time.Now().Add(restartLimit)
	pause := 50 * time.Millisecond
	for tries := 1; ; tries++ {
		if !start() {
			return tries
		}
		if time.Now().Add(pause).After(deadline) {
			t.Fatalf("%s: an address still taken after %d tries in %v", what, tries, restartLimit)
		}
		t.Logf("%s: an address taken (try %d); again in %v", what, tries, pause)
		time.Sleep(pause) // a retry interval while a program holds the port, not a wait for a result
		pause = min(2*pause, time.Second)
	}
}

// restartPeer starts p's daemon (start) on the ports it had, again while
// one of them is taken (whileTaken, startedOn), and returns once it is
// ready, with how many starts it took.
func restartPeer(t *testing.T, p *peer, start func(*peer) *daemonProc) int {
	t.Helper()
	return whileTaken(t, "starting "+p.name+" again", func() bool {
		p.p = start(p)
		return !p.p.startedOn()
	})
}

// listenAgain listens on addr (TCP) again, for a test's server that was
// stopped (a pool element), again while the address is taken
// (whileTaken).
func listenAgain(t *testing.T, addr string) net.Listener {
	t.Helper()
	var ln net.Listener
	whileTaken(t, "listening on "+addr+" again", func() bool {
		var err error
		ln, err = net.Listen("tcp", addr)
		if errors.Is(err, syscall.EADDRINUSE) {
			return true
		}
		if err != nil {
			t.Fatalf("listen again on %s: %v", addr, err)
		}
		return false
	})
	return ln
}

// query asks addr for name/qtype over UDP (nettest.Exchange: a loaded
// machine may drop a datagram or be slow to answer).
func query(t *testing.T, addr, name string, qtype uint16) *dns.Msg {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	m.SetEdns0(1232, false)
	r, err := nettest.Exchange(nil, m, addr)
	if err != nil {
		t.Fatalf("query %s %s: %v", name, dns.TypeToString[qtype], err)
	}
	return r
}

// addrsOf returns the sorted A addresses of an answer that must be NOERROR.
func addrsOf(t *testing.T, addr, name string) []string {
	t.Helper()
	r := query(t, addr, name, dns.TypeA)
	if r.Rcode != dns.RcodeSuccess {
		t.Fatalf("%s A: %s, want NOERROR", name, dns.RcodeToString[r.Rcode])
	}
	var out []string
	for _, rr := range r.Answer {
		if a, ok := rr.(*dns.A); ok {
			out = append(out, a.A.String())
		}
	}
	slices.Sort(out)
	return out
}

// daemonDir makes a working directory with a zones directory holding zone
// and a config file (JSON logs, DNS on a free port of 127.0.0.1) plus the
// extra YAML lines.
func daemonDir(t *testing.T, zone string, extra ...string) string {
	dir := t.TempDir()
	writeFile(t, dir, "zones/pool.example.zone", zone)
	cfg := []string{
		`dns:`,
		`  listen: ["127.0.0.1:0"]`,
		`  udp_sockets: 2`,
		`http:`,
		`  listen: "127.0.0.1:0"`,
		`zones: zones`,
		`data: data`,
		`log:`,
		`  level: debug`,
		`  format: json`,
	}
	writeFile(t, dir, "poolnsd.yaml", strings.Join(append(cfg, extra...), "\n")+"\n")
	return dir
}

// zoneWith is goodZone with the web pool's elements replaced by pes.
func zoneWith(pes ...string) string {
	z := goodZone[:strings.Index(goodZone, "web    PE")]
	for _, pe := range pes {
		z += "web    PE " + pe + "\n"
	}
	return z
}

func TestServe(t *testing.T) {
	t.Parallel()
	dir := daemonDir(t, goodZone)

	// Registrations from before the start: one live, one whose lease ended
	// while poolnsd was down, one that ends soon after the start.
	st, err := store.Open(filepath.Join(dir, "data"))
	if err != nil {
		t.Fatal(err)
	}
	regID := st.RegistrarID()
	now := time.Now()
	el := func(id uint32, label, addr string, expires time.Time) *handlespace.Element {
		return &handlespace.Element{ID: id, Label: handlespace.LabelOf(label), Addrs: handlespace.AddrsOf(netip.MustParseAddr(addr)),
			Port: 80, Expires: handlespace.ExpiryOf(expires), Home: regID}
	}
	for _, x := range []struct {
		pool string
		e    *handlespace.Element
	}{
		{"reg.pool.example.", el(1, "pe1", "192.0.2.101", now.Add(time.Hour))},
		{"old.pool.example.", el(2, "pe2", "192.0.2.102", now.Add(-time.Hour))},
		// Long enough for a start on a loaded machine.
		{"tmp.pool.example.", el(3, "pe3", "192.0.2.103", now.Add(8*time.Second))},
	} {
		if err := st.PutElement(x.pool, x.e); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()

	p := startDaemon(t, dir)
	addr, ready := p.ready()
	if ready["zones"] != 1.0 || ready["registrations"] != 2.0 || ready["registrar"] != handlespace.IDString(regID) {
		t.Errorf("ready line %v: want 1 zone, 2 registrations, registrar %s", ready, handlespace.IDString(regID))
	}
	p.waitLog(0, "the expiry of old.pool.example.'s element", func(r logRec) bool {
		return r.Str("msg") == "registration expired while stopped" && r.Str("pool") == "old.pool.example."
	})

	t.Run("SOA", func(t *testing.T) {
		r := query(t, addr, "pool.example.", dns.TypeSOA)
		if r.Rcode != dns.RcodeSuccess || !r.Authoritative || len(r.Answer) != 1 {
			t.Fatalf("pool.example. SOA: %s AA=%v, %d answers, want NOERROR, AA, the SOA:\n%v",
				dns.RcodeToString[r.Rcode], r.Authoritative, len(r.Answer), r)
		}
		soa, ok := r.Answer[0].(*dns.SOA)
		if !ok || soa.Ns != "ns1.pool.example." || soa.Mbox != "hostmaster.pool.example." || soa.Minttl != 5 {
			t.Errorf("pool.example. SOA answer %v", r.Answer[0])
		}
	})
	t.Run("pool A", func(t *testing.T) {
		if got, want := addrsOf(t, addr, "web.pool.example."), []string{"10.0.0.1", "10.0.0.2"}; !slices.Equal(got, want) {
			t.Errorf("web.pool.example. A = %v, want %v", got, want)
		}
	})
	t.Run("registration from the store", func(t *testing.T) {
		if got, want := addrsOf(t, addr, "reg.pool.example."), []string{"192.0.2.101"}; !slices.Equal(got, want) {
			t.Errorf("reg.pool.example. A = %v, want %v", got, want)
		}
		if r := query(t, addr, "old.pool.example.", dns.TypeA); r.Rcode != dns.RcodeNameError {
			t.Errorf("old.pool.example. A (lease ended while stopped): %s, want NXDOMAIN", dns.RcodeToString[r.Rcode])
		}
	})
	t.Run("lease expiry", func(t *testing.T) {
		p.waitLog(0, "the expiry of tmp.pool.example.'s element", func(r logRec) bool {
			return r.Str("msg") == "registration expired" && r.Str("pool") == "tmp.pool.example." && r.Str("element") == "00000003"
		})
		if r := query(t, addr, "tmp.pool.example.", dns.TypeA); r.Rcode != dns.RcodeNameError {
			t.Errorf("tmp.pool.example. A after its lease: %s, want NXDOMAIN", dns.RcodeToString[r.Rcode])
		}
	})

	t.Run("bad file keeps the old zones", func(t *testing.T) {
		from := p.cursor()
		writeFile(t, dir, "zones/pool.example.zone", badZone)
		r, _ := p.waitLog(from, "the zone error", func(r logRec) bool {
			return r.Str("level") == "ERROR" && strings.Contains(r.Str("err"), "pool.example.zone:7:")
		})
		if !strings.HasPrefix(r.Str("err"), filepath.Join("zones", "pool.example.zone")+":7:") {
			t.Errorf("error line %q does not start with the file:line", r.Str("err"))
		}
		if got, want := addrsOf(t, addr, "web.pool.example."), []string{"10.0.0.1", "10.0.0.2"}; !slices.Equal(got, want) {
			t.Errorf("web.pool.example. A after a bad reload = %v, want the old %v", got, want)
		}
	})
	t.Run("fixed file is loaded", func(t *testing.T) {
		from := p.cursor()
		writeFile(t, dir, "zones/pool.example.zone", zoneWith("10.0.0.1:8080", "10.0.0.3:8080"))
		// The watcher reloads the file once its writer has closed it: the
		// first reload reads all of it.
		want := []string{"10.0.0.1", "10.0.0.3"}
		p.waitLog(from, "a reload with "+strings.Join(want, ", "), msgIs("zones reloaded"))
		if got := addrsOf(t, addr, "web.pool.example."); !slices.Equal(got, want) {
			t.Errorf("web.pool.example. A after the first reload = %v, want %v", got, want)
		}
		if got, want := addrsOf(t, addr, "reg.pool.example."), []string{"192.0.2.101"}; !slices.Equal(got, want) {
			t.Errorf("reg.pool.example. A after a reload = %v, want %v (registrations survive reloads)", got, want)
		}
	})
	t.Run("SIGHUP", func(t *testing.T) {
		p.hup("the SIGHUP reload", func(r logRec) bool {
			return r.Str("msg") == "zones reloaded" && r.Str("trigger") == "SIGHUP"
		})
	})
	t.Run("second instance on the same data directory", func(t *testing.T) {
		stdout, stderr, code := runPoolnsd(t, dir, "serve", "--log.format=text")
		want := filepath.Join("data", store.File) + ": locked by another process (is another poolnsd using this data directory?)"
		if code != exitRuntime || !strings.Contains(stderr, want) {
			t.Errorf("second instance: exit %d, want %d; stderr lacks %q:\n%s%s", code, exitRuntime, want, stdout, stderr)
		}
	})
	t.Run("SIGTERM", func(t *testing.T) {
		from := p.cursor()
		if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		if code := p.waitExit(shutdownGrace); code != exitOK {
			t.Errorf("exit %d after SIGTERM, want 0", code)
		}
		p.waitLog(from, "stopped", msgIs("stopped"))
	})

	// The store holds what is left: the live registration only.
	st, err = store.Open(filepath.Join(dir, "data"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var left []string
	st.Elements(func(pool string, e *handlespace.Element) error {
		left = append(left, fmt.Sprintf("%s/%s", pool, handlespace.IDString(e.ID)))
		return nil
	})
	if want := []string{"reg.pool.example./00000001"}; !slices.Equal(left, want) {
		t.Errorf("store holds %q after the run, want %q", left, want)
	}
}

// TestServeReloadWithoutWatch reloads on SIGHUP only.
func TestServeReloadWithoutWatch(t *testing.T) {
	t.Parallel()
	dir := daemonDir(t, goodZone, "zones_watch: false")
	p := startDaemon(t, dir)
	addr, _ := p.ready()
	writeFile(t, dir, "zones/pool.example.zone", zoneWith("10.0.0.4:8080"))
	p.hup("the SIGHUP reload", msgIs("zones reloaded"))
	if got, want := addrsOf(t, addr, "web.pool.example."), []string{"10.0.0.4"}; !slices.Equal(got, want) {
		t.Errorf("web.pool.example. A after SIGHUP = %v, want %v", got, want)
	}
	if err := p.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if code := p.waitExit(shutdownGrace); code != exitOK {
		t.Errorf("exit %d after SIGINT, want 0", code)
	}
}

// TestServeStartFailures: a bad zone or an unusable data directory at
// start is fatal (exit 3) and says why.
func TestServeStartFailures(t *testing.T) {
	t.Parallel()
	t.Run("bad zone", func(t *testing.T) {
		dir := daemonDir(t, badZone)
		p := startDaemon(t, dir)
		r, _ := p.waitLog(0, "the zone error", func(r logRec) bool { return r.Str("level") == "ERROR" })
		if !strings.HasPrefix(r.Str("err"), filepath.Join("zones", "pool.example.zone")+":7:") {
			t.Errorf("error %q does not start with the file:line", r.Str("err"))
		}
		if code := p.waitExit(waitLimit); code != exitRuntime {
			t.Errorf("exit %d, want %d", code, exitRuntime)
		}
	})
	t.Run("data directory under a file", func(t *testing.T) {
		dir := daemonDir(t, goodZone)
		writeFile(t, dir, "file", "x")
		p := startDaemon(t, dir, "--data", "file/data")
		r, _ := p.waitLog(0, "the store error", func(r logRec) bool { return r.Str("level") == "ERROR" })
		if want := "data directory file/data: cannot create: mkdir file: not a directory"; r.Str("err") != want {
			t.Errorf("error %q, want %q", r.Str("err"), want)
		}
		if code := p.waitExit(waitLimit); code != exitRuntime {
			t.Errorf("exit %d, want %d", code, exitRuntime)
		}
	})
}
