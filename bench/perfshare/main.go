// Command perfshare attributes a poolnsd server's CPU samples, as perf
// record -g took them (bench/bigpool -perf DIR records each registration
// run's server), to the parts of a registration: net/http and the
// kernel's TCP under it, the HTTP API's handler (its reply, its body,
// the rest), the committer (its plan, the rest), the store (the log's
// write and sync), the handlespace's Apply, the monitor, the history,
// peering, metrics, the DNS front's loops, the collector, the Go
// scheduler's idle path and sysmon. A sample goes to the first part
// whose functions are on its stack, in the order above from the
// narrowest (the table below, rules); the rest is "other", with the
// roots of its stacks.
//
//	go run ./bench/bigpool -poolnsd bin/poolnsd -sizes 1000000 -phases mixed -via http -reps 1 -duration 20s -perf /tmp/perf
//	perf script -i /tmp/perf/n=1000000-http-*.data -F comm,tid,period,ip,sym | go run ./bench/perfshare
//
// Each line: the share of the samples, and the part. Several inputs (one
// per binary) print side by side with -a FILE -b FILE.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
)

// rule is a part and the function names (substrings) that put a sample
// in it; the first rule that matches wins.
type rule struct {
	part string
	pats []string
}

var rules = []rule{
	{"GC (mark, sweep, scavenge)", []string{"runtime.gcBgMarkWorker", "runtime.gcDrain", "runtime.markroot", "runtime.bgsweep", "runtime.bgscavenge", "runtime.gcStart"}},
	{"monitor", []string{"poolnsd/monitor."}},
	{"history", []string{"poolnsd/history."}},
	{"peering (enrp)", []string{"poolnsd/enrp."}},
	{"metrics", []string{"poolnsd/metrics.", "prometheus"}},
	{"store: log write, fsync", []string{"store.(*elog)"}},
	{"store: other (records)", []string{"poolnsd/store."}},
	{"handlespace Apply", []string{"handlespace.(*Handlespace).apply", "handlespace.(*Handlespace).Apply"}},
	{"regcommit plan (handlespace lookups)", []string{"regcommit.(*Committer).plan"}},
	{"regcommit other", []string{"poolnsd/regcommit."}},
	{"httpapi reply", []string{"httpapi.writeJSON", "httpapi.writeRegister", "httpapi.(*api).element"}},
	{"httpapi body", []string{"httpapi.decodeRegister"}},
	{"httpapi other", []string{"poolnsd/httpapi."}},
	{"net/http (and its TCP)", []string{"net/http."}},
	{"DNS loops", []string{"poolnsd/dnsfront", "udpbatch"}},
	{"scheduler: idle, park, netpoll", []string{"runtime.findRunnable", "runtime.park_m", "runtime.schedule", "runtime.mcall", "runtime.goschedImpl"}},
	{"sysmon", []string{"runtime.sysmon"}},
}

func main() {
	a := flag.String("a", "", "perf script output (default: standard input)")
	b := flag.String("b", "", "a second perf script output, printed beside the first")
	flag.Parse()
	var tables []map[string]int
	var totals []int
	var others []map[string]int
	for _, f := range []string{*a, *b} {
		if f == "" && len(tables) > 0 {
			break
		}
		in := io.Reader(os.Stdin)
		if f != "" {
			fh, err := os.Open(f)
			if err != nil {
				fmt.Fprintln(os.Stderr, "perfshare:", err)
				os.Exit(1)
			}
			defer fh.Close()
			in = fh
		}
		t, other, n, err := share(in)
		if err != nil {
			fmt.Fprintln(os.Stderr, "perfshare:", err)
			os.Exit(1)
		}
		tables, others, totals = append(tables, t), append(others, other), append(totals, n)
	}
	parts := []string{}
	for _, r := range rules {
		parts = append(parts, r.part)
	}
	parts = append(parts, "other")
	for _, p := range parts {
		for i, t := range tables {
			fmt.Printf("%6.1f %%  ", 100*float64(t[p])/float64(max(1, totals[i])))
		}
		fmt.Println(p)
	}
	for i, n := range totals {
		fmt.Printf("samples %d", n)
		roots := []string{}
		for r := range others[i] {
			roots = append(roots, r)
		}
		slices.SortFunc(roots, func(x, y string) int { return others[i][y] - others[i][x] })
		if len(roots) > 5 {
			roots = roots[:5]
		}
		for _, r := range roots {
			fmt.Printf("; other: %d %s", others[i][r], r)
		}
		fmt.Println()
	}
}

// share reads perf script's samples (a header line, then one frame a
// line, indented, leaf first; a blank line between samples) and counts
// them by part; other counts the unmatched by their stack's root.
func share(in io.Reader) (parts, other map[string]int, n int, err error) {
	parts, other = map[string]int{}, map[string]int{}
	var stack []string
	flush := func() {
		if stack == nil {
			return
		}
		n++
		part := "other"
	match:
		for _, r := range rules {
			for _, f := range stack {
				for _, p := range r.pats {
					if strings.Contains(f, p) {
						part = r.part
						break match
					}
				}
			}
		}
		parts[part]++
		if part == "other" && len(stack) > 0 {
			other[stack[len(stack)-1]]++
		}
		stack = nil
	}
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.TrimSpace(line) == "":
			flush()
		case line[0] == '\t' || line[0] == ' ':
			// "<address> <symbol>"
			f := strings.TrimSpace(line)
			if _, sym, ok := strings.Cut(f, " "); ok {
				f = sym
			}
			stack = append(stack, f)
		default: // a sample's header
			flush()
			stack = []string{}
		}
	}
	flush()
	return parts, other, n, sc.Err()
}
