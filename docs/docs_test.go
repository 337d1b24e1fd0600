package docs_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode"

	"github.com/poolnsd/poolnsd/docs"
)

// root is the repository's top directory, seen from this package.
const root = ".."

// TestGeneratedSectionsCurrent: the generated parts of the pages are what
// the code generates now.
func TestGeneratedSectionsCurrent(t *testing.T) {
	for _, s := range docs.Sections() {
		page, err := os.ReadFile(s.Page)
		if err != nil {
			t.Fatal(err)
		}
		got, err := docs.Extract(page, s.Name)
		if err != nil {
			t.Fatalf("%s: %v", s.Page, err)
		}
		want, err := s.Generate()
		if err != nil {
			t.Fatalf("%s: %v", s.Name, err)
		}
		if got != want {
			t.Errorf("docs/%s: the %s section is stale; run make docs (or go generate ./docs)\n%s",
				s.Page, s.Name, firstDiff(got, want))
		}
	}
}

// firstDiff names the first line where got and want differ.
func firstDiff(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := 0; i < max(len(g), len(w)); i++ {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			return fmt.Sprintf("line %d:\n  checked in: %s\n  generated:  %s", i+1, gl, wl)
		}
	}
	return ""
}

// TestSpliceExtract: a section's body is replaced between its markers,
// and a page without them is an error.
func TestSpliceExtract(t *testing.T) {
	page := []byte("intro\n<!-- BEGIN GENERATED: x (make docs) -->\nold\n<!-- END GENERATED: x -->\nafter\n")
	out, err := docs.Splice(page, "x", "new 1\nnew 2\n")
	if err != nil {
		t.Fatal(err)
	}
	want := "intro\n<!-- BEGIN GENERATED: x (make docs) -->\nnew 1\nnew 2\n<!-- END GENERATED: x -->\nafter\n"
	if string(out) != want {
		t.Errorf("Splice: %q, want %q", out, want)
	}
	if body, err := docs.Extract(out, "x"); err != nil || body != "new 1\nnew 2\n" {
		t.Errorf("Extract: %q, %v", body, err)
	}
	if _, err := docs.Extract(page, "y"); err == nil {
		t.Error("Extract of a section without markers: no error")
	}
	if _, err := docs.Splice([]byte("<!-- END GENERATED: x -->\n<!-- BEGIN GENERATED: x (make docs) -->\n"), "x", ""); err == nil {
		t.Error("Splice with the markers in the wrong order: no error")
	}
}

// pages are the Markdown files whose links are checked.
func pages(t *testing.T) []string {
	t.Helper()
	out := []string{filepath.Join(root, "README.md"), filepath.Join(root, "bench", "RESULTS.md"),
		filepath.Join(root, "bench", "peers", "README.md")}
	md, err := filepath.Glob("*.md")
	if err != nil {
		t.Fatal(err)
	}
	return append(out, md...)
}

var (
	linkRE    = regexp.MustCompile(`\[[^\]]*\]\(([^)\s]+)\)`)
	headingRE = regexp.MustCompile(`^(#{1,6})\s+(.*?)\s*#*\s*$`)
	fenceRE   = regexp.MustCompile("^\\s*(```|~~~)")
)

// TestLinks: every relative link of the README, the pages and the
// benchmark notes names a file that exists and, with a #fragment, a
// heading of that file.
func TestLinks(t *testing.T) {
	anchors := map[string]map[string]bool{} // file → its anchors
	anchorsOf := func(path string) map[string]bool {
		if a, ok := anchors[path]; ok {
			return a
		}
		a := headingAnchors(t, path)
		anchors[path] = a
		return a
	}
	n := 0
	for _, page := range pages(t) {
		for _, l := range links(t, page) {
			target := l.target
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			file, frag, _ := strings.Cut(target, "#")
			path := page
			if file != "" {
				path = filepath.Join(filepath.Dir(page), file)
				if _, err := os.Stat(path); err != nil {
					t.Errorf("%s:%d: link to %s: %v", page, l.line, target, err)
					continue
				}
			}
			n++
			if frag == "" {
				continue
			}
			if !strings.HasSuffix(path, ".md") {
				t.Errorf("%s:%d: link to %s: an anchor in a file that is not Markdown", page, l.line, target)
				continue
			}
			if !anchorsOf(path)[frag] {
				t.Errorf("%s:%d: link to %s: %s has no heading with the anchor #%s", page, l.line, target, path, frag)
			}
		}
	}
	if n < 50 {
		t.Errorf("only %d relative links checked: the link pattern is broken", n)
	}
}

type link struct {
	line   int
	target string
}

// links returns the Markdown links of a page, outside code blocks and
// code spans.
func links(t *testing.T, path string) []link {
	t.Helper()
	var out []link
	forLines(t, path, func(no int, line string) {
		line = regexp.MustCompile("`[^`]*`").ReplaceAllString(line, "")
		for _, m := range linkRE.FindAllStringSubmatch(line, -1) {
			out = append(out, link{no, m[1]})
		}
	}, nil)
	return out
}

// headingAnchors returns the GitHub anchors of a Markdown file's headings.
func headingAnchors(t *testing.T, path string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	seen := map[string]int{}
	forLines(t, path, nil, func(no int, text string) {
		a := slug(text)
		if k := seen[a]; k > 0 {
			out[fmt.Sprintf("%s-%d", a, k)] = true
		} else {
			out[a] = true
		}
		seen[a]++
	})
	return out
}

// forLines calls line for each line outside fenced code blocks and
// heading for each heading's text.
func forLines(t *testing.T, path string, line func(int, string), heading func(int, string)) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	inFence := false
	for no := 1; sc.Scan(); no++ {
		l := sc.Text()
		if fenceRE.MatchString(l) {
			inFence = !inFence
			continue
		}
		if inFence {
			continue
		}
		if m := headingRE.FindStringSubmatch(l); m != nil && heading != nil {
			heading(no, m[2])
		}
		if line != nil {
			line(no, l)
		}
	}
}

// slug is GitHub's anchor of a heading: lower case, markup and punctuation
// dropped (hyphens and underscores kept), spaces as hyphens.
func slug(heading string) string {
	heading = regexp.MustCompile(`\[([^\]]*)\]\([^)]*\)`).ReplaceAllString(heading, "$1")
	var b strings.Builder
	for _, r := range strings.ToLower(heading) {
		switch {
		case r == ' ':
			b.WriteRune('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

func TestSlug(t *testing.T) {
	for in, want := range map[string]string{
		"Sites and the nearest policy":         "sites-and-the-nearest-policy",
		"`poolnsd status`, `drain`, `undrain`": "poolnsd-status-drain-undrain",
		"Signals, readiness, shutdown":         "signals-readiness-shutdown",
		"Peering (issue 5)":                    "peering-issue-5",
		"Group commit vs bbolt's own batching (`go test -bench StoreWrites ./handlespace`)": "group-commit-vs-bbolts-own-batching-go-test--bench-storewrites-handlespace",
	} {
		if got := slug(in); got != want {
			t.Errorf("slug(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestNothingPointsOutside: no file of the repository refers to the
// directories beside the clone that the project started with (a clone has
// none of them).
func TestNothingPointsOutside(t *testing.T) {
	bad := []string{"../shared", "/work/shared"}
	skip := map[string]bool{".git": true, "bin": true, "data": true, filepath.Join("bench", "out"): true}
	self, _ := filepath.Abs("docs_test.go")
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() {
			if skip[rel] {
				return filepath.SkipDir
			}
			return nil
		}
		if abs, _ := filepath.Abs(path); abs == self || !d.Type().IsRegular() {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, b := range bad {
			if i := bytes.Index(data, []byte(b)); i >= 0 {
				t.Errorf("%s:%d: refers to %s, which a clone does not have", rel, bytes.Count(data[:i], []byte("\n"))+1, b)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestIndexListsEveryPage: every page of docs/ is linked from the index
// (docs/README.md) and from the top README, so that a new page is found.
// NAME-notes.md files, notes waiting to be folded into a page, are not
// pages.
func TestIndexListsEveryPage(t *testing.T) {
	md, err := filepath.Glob("*.md")
	if err != nil {
		t.Fatal(err)
	}
	index := map[string]bool{}
	for _, l := range links(t, "README.md") {
		index[strings.SplitN(l.target, "#", 2)[0]] = true
	}
	top := map[string]bool{}
	for _, l := range links(t, filepath.Join(root, "README.md")) {
		top[strings.SplitN(l.target, "#", 2)[0]] = true
	}
	for _, p := range md {
		if p == "README.md" || strings.HasSuffix(p, "-notes.md") {
			continue
		}
		if !index[p] {
			t.Errorf("docs/README.md does not link %s", p)
		}
		if !top[path.Join("docs", p)] {
			t.Errorf("README.md does not link docs/%s", p)
		}
	}
}
