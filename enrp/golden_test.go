package enrp_test

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/poolnsd/poolnsd/enrp/enrptest"
	"github.com/poolnsd/poolnsd/enrp/wire"
)

var update = flag.Bool("enrp.update", false, "rewrite the golden traces in testdata/traces")

// TestGoldenTraces runs short scenarios on the in-memory network (no
// jitter, a fixed seed) and compares the trace of every message and event
// with testdata/traces/NAME.txt; -enrp.update rewrites the files, whose
// diff is then reviewed. They show the protocol at work: join and sync, a
// takeover by two initiators of which the lower ID wins.
func TestGoldenTraces(t *testing.T) {
	for _, sc := range []struct {
		name string
		run  func(t *testing.T, c *enrptest.Cluster)
	}{
		{"join", func(t *testing.T, c *enrptest.Cluster) {
			a := add(t, c, idA, enrptest.Zones(t, 2))
			register(t, c, a, 0, 2)
			add(t, c, idB, enrptest.Zones(t, 2), idA)
			c.RunFor(1500 * time.Millisecond)
		}},
		{"takeover", func(t *testing.T, c *enrptest.Cluster) {
			a := add(t, c, idA, enrptest.Zones(t, 0))
			add(t, c, idB, enrptest.Zones(t, 0), idA)
			add(t, c, idC, enrptest.Zones(t, 0), idA, idB)
			register(t, c, a, 0, 1)
			c.RunFor(1200 * time.Millisecond)
			a.Stop()
			c.RunFor(lastHeard + noResponse + 200*time.Millisecond)
		}},
	} {
		t.Run(sc.name, func(t *testing.T) {
			c := newCluster(t, 42)
			c.Config.Jitter = -1
			var lines []string
			c.Trace = func(l string) { lines = append(lines, l) }
			sc.run(t, c)
			got := strings.Join(lines, "\n") + "\n"
			file := filepath.Join("testdata", "traces", sc.name+".txt")
			if *update {
				if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(file)
			if err != nil {
				t.Fatalf("%v (run with -enrp.update to write it)", err)
			}
			if got != string(want) {
				gl, wl := strings.Split(got, "\n"), strings.Split(string(want), "\n")
				for i := 0; i < len(gl) && i < len(wl); i++ {
					if gl[i] != wl[i] {
						t.Fatalf("%s differs from line %d:\n got %s\nwant %s\n(run with -enrp.update to rewrite it, and review the diff)", file, i+1, gl[i], wl[i])
					}
				}
				t.Fatalf("%s: %d lines, want %d", file, len(gl), len(wl))
			}
		})
	}
	_ = wire.TypePresence
}
