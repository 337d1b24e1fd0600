package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/poolnsd/poolnsd/config"
	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/zones"
	"github.com/spf13/pflag"
)

// check loads zone files as serve would (parse, then apply to an empty
// handlespace), serves nothing, and reports: one error per line on stderr
// and exit 1, or a summary on stdout.
func check(args []string, stdout, stderr io.Writer) int {
	fs := pflag.NewFlagSet("check", pflag.ContinueOnError)
	config.RegisterFlags(fs)
	if code, ok := parseFlags(fs, "check", args, stdout, stderr); !ok {
		return code
	}
	cfg, warns, ok := loadConfig(fs, stderr)
	if !ok {
		return exitUsage
	}
	for _, w := range warns {
		fmt.Fprintln(stderr, "warning: "+w)
	}
	paths := fs.Args()
	if len(paths) == 0 {
		paths = []string{cfg.Zones}
	}
	defs, err := zones.LoadPaths(paths...)
	if err == nil {
		hs := handlespace.New(handlespace.Options{DefaultSpec: cfg.PoolSpec()})
		err = hs.ApplyZones(defs)
	}
	if err != nil {
		for _, line := range strings.Split(err.Error(), "\n") {
			fmt.Fprintln(stderr, line)
		}
		return exitCheck
	}
	n := countDefs(defs)
	fmt.Fprintf(stdout, "ok: %d zones, %d pools, %d elements\n", n.zones, n.pools, n.elements)
	return exitOK
}

// counts are sizes for summaries and log lines.
type counts struct{ zones, pools, elements int }

func countDefs(defs []handlespace.ZoneDef) counts {
	var c counts
	for _, d := range defs {
		c.zones++
		c.pools += len(d.Pools)
		for _, p := range d.Pools {
			c.elements += len(p.Elements)
		}
	}
	return c
}

// countView counts what a handlespace serves, registrations included.
func countView(v *handlespace.View) counts {
	var c counts
	for _, z := range v.Zones() {
		c.zones++
		for _, h := range z.PoolHandles() {
			if p := z.Pool(h); p != nil {
				c.pools++
				c.elements += p.Len()
			}
		}
	}
	return c
}
