package walls

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// maxLines is the most lines that a package's non-test Go files may hold
// together (docs/design.md, The walls): a package that outgrows it is
// split by job, as dnsfront and handlespace were.
const maxLines = 4000

// TestPackageSize: no package of the module holds more than maxLines lines
// of non-test Go code (the files of this platform's build and the others
// that go list names as ignored, such as batch_other.go).
func TestPackageSize(t *testing.T) {
	out := goList(t, "-json=ImportPath,Dir,GoFiles,CgoFiles,IgnoredGoFiles")
	largest, largestPkg := 0, ""
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p struct {
			ImportPath, Dir                   string
			GoFiles, CgoFiles, IgnoredGoFiles []string
		}
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("go list output: %v", err)
		}
		n := 0
		for _, files := range [][]string{p.GoFiles, p.CgoFiles, p.IgnoredGoFiles} {
			for _, f := range files {
				if filepath.Ext(f) != ".go" || strings.HasSuffix(f, "_test.go") {
					continue
				}
				b, err := os.ReadFile(filepath.Join(p.Dir, f))
				if err != nil {
					t.Fatal(err)
				}
				n += bytes.Count(b, []byte("\n"))
			}
		}
		if n > maxLines {
			t.Errorf("%s: %d lines of non-test Go code, more than %d: split it by job", short(p.ImportPath), n, maxLines)
		}
		if n > largest {
			largest, largestPkg = n, p.ImportPath
		}
	}
	// A count that read nothing would pass every package.
	if largest < maxLines/4 {
		t.Fatalf("the largest package, %s, counted %d lines: the count is broken", largestPkg, largest)
	}
	t.Logf("largest package: %s, %d lines", short(largestPkg), largest)
}
