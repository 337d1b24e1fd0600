package docs_test

import (
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// depLine is one package of scripts/deps.txt.
type depLine struct {
	pkg    string
	checks []string
	opts   map[string]string
}

func readDeps(t *testing.T) []depLine {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, "scripts", "deps.txt"))
	if err != nil {
		t.Fatal(err)
	}
	var out []depLine
	for i, l := range strings.Split(string(data), "\n") {
		l, _, _ = strings.Cut(l, "#")
		f := strings.Fields(l)
		if len(f) == 0 {
			continue
		}
		d := depLine{pkg: f[0], opts: map[string]string{}}
		for _, w := range f[1:] {
			if k, v, ok := strings.Cut(w, "="); ok {
				if k != "only" && k != "services" {
					t.Errorf("scripts/deps.txt:%d: unknown option %q", i+1, k)
				}
				d.opts[k] = v
				continue
			}
			d.checks = append(d.checks, w)
		}
		if len(d.checks) == 0 {
			t.Errorf("scripts/deps.txt:%d: %s has nothing to check (a command or a path)", i+1, d.pkg)
		}
		if o := d.opts["only"]; o != "" && !strings.HasPrefix(o, "/") {
			t.Errorf("scripts/deps.txt:%d: only=%s is not an absolute path", i+1, o)
		}
		out = append(out, d)
	}
	return out
}

// TestDepsListHasEveryTestTool: every tool that a test looks up with
// proctest.LookTool(t, NAME, PACKAGE) is in scripts/deps.txt under that
// package, so that make test and CI install it.
func TestDepsListHasEveryTestTool(t *testing.T) {
	deps := readDeps(t)
	look := regexp.MustCompile(`LookTool\(\w+, "([^"]+)", "([^"]+)"\)`)
	found := 0
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "bin" || d.Name() == "out") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(p, ".go") {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, m := range look.FindAllStringSubmatch(string(data), -1) {
			found++
			name, pkg := m[1], m[2]
			ok := false
			for _, d := range deps {
				for _, c := range d.checks {
					if d.pkg == pkg && (c == name || path.Base(c) == name) {
						ok = true
					}
				}
			}
			if !ok {
				t.Errorf("%s: a test needs %s from package %s, which scripts/deps.txt does not list", p, name, pkg)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if found < 5 {
		t.Errorf("only %d LookTool calls found: the pattern is broken", found)
	}
}

// TestDepsListHasTheCToolchain: -race needs cgo, so gcc and libc6-dev.
func TestDepsListHasTheCToolchain(t *testing.T) {
	have := map[string]bool{}
	for _, d := range readDeps(t) {
		have[d.pkg] = true
	}
	for _, p := range []string{"gcc", "libc6-dev", "make"} {
		if !have[p] {
			t.Errorf("scripts/deps.txt lacks %s", p)
		}
	}
}
