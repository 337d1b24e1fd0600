package docs_test

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/poolnsd/poolnsd/config"
	"github.com/poolnsd/poolnsd/internal/proctest"
)

// The quick start's examples run against a real poolnsd on make run's
// defaults (the example zone from ./zones, the store in ./data, no config
// file), its DNS port moved to a free one: every command the README and
// docs/answers.md print with its output is run, and every output line
// they show must be in what it prints, in the order shown.

// defaultDNSPort is the port of dns.listen's default, which the documented
// commands must use.
func defaultDNSPort(t *testing.T) string {
	t.Helper()
	for _, o := range config.Options() {
		if o.Key == "dns.listen" {
			_, port, err := net.SplitHostPort(o.Default.([]string)[0])
			if err != nil {
				t.Fatal(err)
			}
			return port
		}
	}
	t.Fatal("no dns.listen option")
	return ""
}

// The binary, built once per test binary by the first test that needs it
// (the tests run in parallel); with -race when the tests have it
// (race_test.go).
var (
	raceBuild bool
	buildOnce sync.Once
	built     string // its path, "" until built
	buildErr  error
)

func buildPoolnsd(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "poolnsd-docs-")
		if err != nil {
			buildErr = err
			return
		}
		bin := filepath.Join(dir, "poolnsd")
		args := []string{"build", "-o", bin}
		if raceBuild {
			args = append(args, "-race")
		}
		if out, err := exec.Command("go", append(args, "../cmd/poolnsd")...).CombinedOutput(); err != nil {
			os.RemoveAll(dir)
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
			return
		}
		built = bin
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return built
}

func TestMain(m *testing.M) {
	code := m.Run()
	if built != "" {
		os.RemoveAll(filepath.Dir(built))
	}
	os.Exit(code)
}

// server is a poolnsd serving the example zone as make run does.
type server struct {
	dir  string // its working directory
	port string // its DNS port
}

// startExample starts poolnsd serve in a fresh directory holding
// zones/example.zone and, if given, poolnsd.yaml's content, with DNS and
// HTTP on free ports of 127.0.0.1 and everything else at its default.
func startExample(t *testing.T, dir string) server {
	t.Helper()
	zone, err := os.ReadFile("../zones/example.zone")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "zones"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "zones", "example.zone"), zone, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(buildPoolnsd(t), "serve", "--dns.listen", "127.0.0.1:0", "--http.listen", "127.0.0.1:0",
		"--log.format", "json")
	cmd.Dir = dir
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "POOLNSD_") && !strings.HasPrefix(kv, "GORACE=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	// A race in the server stops it (and fails the test); no second's wait
	// at its exit.
	cmd.Env = append(cmd.Env, "GORACE=atexit_sleep_ms=0 halt_on_error=1")
	p, err := proctest.Start(cmd, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.Stop(os.Interrupt, 5*time.Second)
		if t.Failed() {
			t.Logf("poolnsd log:\n%s", p.Log())
		}
	})
	r, _, err := p.Wait(0, 30*time.Second, proctest.MsgIs("ready"))
	if err != nil {
		t.Fatalf("poolnsd not ready: %v\n%s", err, p.Tail(20))
	}
	addrs, _ := r["dns"].([]any)
	if len(addrs) != 1 {
		t.Fatalf("ready line without one DNS address: %v", r)
	}
	_, port, err := net.SplitHostPort(addrs[0].(string))
	if err != nil {
		t.Fatal(err)
	}
	return server{dir: dir, port: port}
}

// example is one documented command with the output lines shown under it.
type example struct {
	line    int
	cmd     string // as written, without the comment
	comment string
	output  []string
}

// consoleExamples returns the "$ dig" commands of the ```console blocks of
// a page's section (from the heading that starts with section to the next
// heading of the same or a higher level) with their output lines.
func consoleExamples(t *testing.T, page, section string) []example {
	t.Helper()
	data, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	var out []example
	in, level, block := false, 0, false
	for i, l := range strings.Split(string(data), "\n") {
		if m := headingRE.FindStringSubmatch(l); m != nil && !block {
			switch {
			case strings.HasPrefix(m[2], section):
				in, level = true, len(m[1])
			case in && len(m[1]) <= level:
				in = false
			}
			continue
		}
		if !in {
			continue
		}
		switch {
		case strings.HasPrefix(l, "```console"):
			block = true
		case strings.HasPrefix(l, "```"):
			block = false
		case block && strings.HasPrefix(l, "$ "):
			cmd, comment, _ := strings.Cut(strings.TrimPrefix(l, "$ "), "#")
			out = append(out, example{line: i + 1, cmd: strings.TrimSpace(cmd), comment: strings.TrimSpace(comment)})
		case block && len(out) > 0 && strings.TrimSpace(l) != "":
			out[len(out)-1].output = append(out[len(out)-1].output, l)
		}
	}
	if len(out) == 0 {
		t.Fatalf("%s: no console examples under %q", page, section)
	}
	return out
}

var spaces = regexp.MustCompile(`\s+`)

func norm(s string) string { return strings.TrimSpace(spaces.ReplaceAllString(s, " ")) }

// runDigExamples runs each example against s in order and checks its
// output.
func runDigExamples(t *testing.T, page string, s server, exs []example) {
	t.Helper()
	dig := proctest.LookTool(t, "dig", "bind9-dnsutils")
	want := "-p " + defaultDNSPort(t) + " "
	for _, ex := range exs {
		where := page + ":" + strconv.Itoa(ex.line)
		if !strings.HasPrefix(ex.cmd, "dig ") || !strings.Contains(ex.cmd+" ", want) {
			t.Errorf("%s: %q is not a dig command at the default port (%s)", where, ex.cmd, want)
			continue
		}
		args := strings.Fields(strings.Replace(ex.cmd, want, "-p "+s.port+" ", 1))[1:]
		out, err := exec.Command(dig, append([]string{proctest.ToolTime, "+tries=1"}, args...)...).CombinedOutput()
		if err != nil {
			t.Errorf("%s: %s: %v\n%s", where, ex.cmd, err, out)
			continue
		}
		got := strings.Split(string(out), "\n")
		// The lines shown, in the order shown.
		k := 0
		for _, w := range ex.output {
			for k < len(got) && norm(got[k]) != norm(w) {
				k++
			}
			if k == len(got) {
				t.Errorf("%s: %s: the documented line\n\t%s\nis not in the output (in this order):\n%s", where, ex.cmd, w, out)
				break
			}
			k++
		}
		// What the comment promises of the status.
		text := string(out)
		for _, st := range []string{"NXDOMAIN", "REFUSED"} {
			if strings.Contains(ex.comment, st) && !strings.Contains(text, "status: "+st) {
				t.Errorf("%s: %s: the comment says %s; the answer:\n%s", where, ex.cmd, st, out)
			}
		}
		if strings.Contains(ex.comment, "NODATA") && (!strings.Contains(text, "status: NOERROR") || !strings.Contains(text, "ANSWER: 0,")) {
			t.Errorf("%s: %s: the comment says NODATA; the answer:\n%s", where, ex.cmd, out)
		}
		if strings.Contains(ex.comment, "SOA in authority") && !regexp.MustCompile(`(?m)^pool\.example\.\s+\d+\s+IN\s+SOA`).MatchString(text) {
			t.Errorf("%s: %s: the comment says SOA in authority; the answer:\n%s", where, ex.cmd, out)
		}
	}
}

// TestQuickStartDig: the README's first tour step, against a fresh server
// (the round-robin orders shown are a fresh server's).
func TestQuickStartDig(t *testing.T) {
	t.Parallel()
	exs := consoleExamples(t, "../README.md", "1. Ask for a pool")
	runDigExamples(t, "README.md", startExample(t, t.TempDir()), exs)
}

// TestAnswersDigExamples: the dig examples of docs/answers.md, against a
// fresh server.
func TestAnswersDigExamples(t *testing.T) {
	t.Parallel()
	exs := consoleExamples(t, "answers.md", "dig examples")
	runDigExamples(t, "answers.md", startExample(t, t.TempDir()), exs)
}

// shBlocks returns the ```sh blocks of a page's section.
func shBlocks(t *testing.T, page, section string) []string {
	t.Helper()
	data, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	in, level, block := false, 0, -1
	for _, l := range strings.Split(string(data), "\n") {
		if m := headingRE.FindStringSubmatch(l); m != nil && block < 0 {
			switch {
			case strings.HasPrefix(m[2], section):
				in, level = true, len(m[1])
			case in && len(m[1]) <= level:
				in = false
			}
			continue
		}
		switch {
		case !in:
		case l == "```sh":
			out = append(out, "")
			block = len(out) - 1
		case strings.HasPrefix(l, "```"):
			block = -1
		case block >= 0:
			out[block] += l + "\n"
		}
	}
	return out
}

// TestQuickStartRegistration: the README's registration step, its shell
// commands run as printed (but for make run, which is poolnsd serve here,
// and the port): the key made, poolnsd.yaml read from the working
// directory, pe1 registered with nsupdate and in the SRV answer, then
// deregistered.
func TestQuickStartRegistration(t *testing.T) {
	t.Parallel()
	proctest.LookTool(t, "nsupdate", "bind9-dnsutils")
	proctest.LookTool(t, "dig", "bind9-dnsutils")
	blocks := shBlocks(t, "../README.md", "3. Register an element")
	if len(blocks) != 2 || !strings.HasSuffix(blocks[0], "make run\n") {
		t.Fatalf("want two sh blocks, the first ending in make run; got %q", blocks)
	}
	dir := t.TempDir()
	bash := func(script string) string {
		t.Helper()
		cmd := exec.Command("bash", "-euo", "pipefail", "-c", script)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%v running\n%s\noutput:\n%s", err, script, out)
		}
		return string(out)
	}
	bash(strings.TrimSuffix(blocks[0], "make run\n"))
	s := startExample(t, dir)
	if _, err := os.Stat(filepath.Join(dir, "data")); err != nil {
		t.Fatal(err)
	}
	port := defaultDNSPort(t)
	script := strings.NewReplacer("-p "+port+" ", "-p "+s.port+" ", "127.0.0.1 "+port+"\n", "127.0.0.1 "+s.port+"\n",
		`127.0.0.1 `+port+`\n`, `127.0.0.1 `+s.port+`\n`).Replace(blocks[1])
	if script == blocks[1] {
		t.Fatalf("the commands do not use the default port %s:\n%s", port, script)
	}
	out := bash(script)
	if !regexp.MustCompile(`(?m)^\d+ \d+ 8080 pe1\.web\.pool\.example\.$`).MatchString(out) {
		t.Errorf("pe1 is not in the SRV answer after its registration:\n%s", out)
	}
	// Deregistered: the last command removed it.
	dig := exec.Command("dig", "@127.0.0.1", "-p", s.port, "+short", proctest.ToolTime, "+tries=1", "_http._tcp.web.pool.example", "SRV")
	if after, err := dig.Output(); err != nil || strings.Contains(string(after), "pe1") || !strings.Contains(string(after), "web1") {
		t.Errorf("after the deregistration: %v\n%s", err, after)
	}
}
