package main

import (
	"errors"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/poolnsd/poolnsd/config"
	"github.com/spf13/pflag"
)

// Exit codes of run.
const (
	// exitOK: success.
	exitOK = 0
	// exitCheck: check found errors in zone files.
	exitCheck = 1
	// exitUsage: a bad command line or configuration.
	exitUsage = 2
	// exitRuntime: a failure at run time: the store cannot be opened, the
	// zones cannot be loaded at start, a socket cannot be bound, a serving
	// loop failed.
	exitRuntime = 3
)

// version is the release, set with -ldflags "-X main.version=v1.2.3"; if
// empty, the module version from the build information.
var version = ""

func versionString() string {
	v := version
	if v == "" {
		v = "(devel)"
		if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
			v = bi.Main.Version
		}
	}
	return fmt.Sprintf("poolnsd %s %s %s/%s", v, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

const usageHead = `poolnsd is a pool registrar with a DNS face.

Usage:
  poolnsd serve [flags]                serve DNS until SIGTERM or SIGINT;
                                       SIGHUP reloads the zones and the
                                       live settings (log, tokens, tsig)
  poolnsd check [flags] [FILE|DIR...]  check zone files (default: the zones
                                       directory of the configuration) and exit
  poolnsd config [--markdown]          print the default configuration as
                                       commented YAML (or a Markdown table)
  poolnsd status [--server URL] [--json] [--problems] [--peers]
                                       print the server's pools and elements
                                       (--peers: the registrars of its cluster)
  poolnsd drain [--force] POOL ELEMENT take an element out of the answers
                                       (--force: force it down)
  poolnsd undrain POOL ELEMENT         give the element back to its health
  poolnsd dnssec keygen|import|ds|status|activate|retire|delete ...
                                       DNSSEC keys in <data>/keys (poolnsd
                                       dnssec help)
  poolnsd demo                         serve a demo pool of local HTTP
                                       backends, to watch a failover
  poolnsd version                      print the version
  poolnsd help                         print this help
`

const usageTail = `
The configuration is merged from the defaults, the config file, the
environment (POOLNSD_DNS_LISTEN for dns.listen) and the flags, each over the
one before; "poolnsd config" prints every key.

status, drain and undrain find the server at http.listen of the
configuration (or --server) and take the token from --token,
POOLNSD_HTTP_TOKEN or http.token.

Exit status: 0 success; 1 check found errors in zone files, or status found
a pool that serves none of its elements (or fails open); 2 bad command line
or configuration; 3 failure at run time (for status and drain: the server
cannot be reached or answers an error); 4 drain or undrain named an
unknown pool or element; 5 the server refused the token.
`

// usage writes the full help.
func usage(w io.Writer) {
	fs := pflag.NewFlagSet("poolnsd", pflag.ContinueOnError)
	fs.SortFlags = false // the table's order
	config.RegisterFlags(fs)
	fmt.Fprint(w, usageHead)
	fmt.Fprint(w, "\nFlags of serve and check:\n")
	fmt.Fprint(w, fs.FlagUsages())
	fmt.Fprint(w, usageTail)
}

// run runs the command line args (without the program name) and returns
// the exit code.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "poolnsd: no command given")
		usage(stderr)
		return exitUsage
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return serve(rest, stdout, stderr)
	case "check":
		return check(rest, stdout, stderr)
	case "config":
		return printConfig(rest, stdout, stderr)
	case "status":
		return statusCmd(rest, stdout, stderr)
	case "drain", "undrain":
		return adminCmd(cmd, rest, stdout, stderr)
	case "demo":
		return demo(rest, stdout, stderr)
	case "dnssec":
		return dnssecCmd(rest, stdout, stderr)
	case "version", "--version":
		fmt.Fprintln(stdout, versionString())
		return exitOK
	case "help", "-h", "-help", "--help":
		usage(stdout)
		return exitOK
	}
	fmt.Fprintf(stderr, "poolnsd: unknown command %q; want serve, check, config, status, drain, undrain, dnssec, demo, version or help\n", cmd)
	return exitUsage
}

// parseFlags parses the flags of subcommand cmd. ok is false when run
// should return code: after --help (0) or a bad flag (2).
func parseFlags(fs *pflag.FlagSet, cmd string, args []string, stdout, stderr io.Writer) (code int, ok bool) {
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	err := fs.Parse(args)
	if errors.Is(err, pflag.ErrHelp) {
		usage(stdout)
		return exitOK, false
	}
	if err != nil {
		fmt.Fprintf(stderr, "poolnsd %s: %v; see poolnsd help\n", cmd, err)
		return exitUsage, false
	}
	return 0, true
}

// loadConfig loads the configuration, printing its errors one per line.
func loadConfig(fs *pflag.FlagSet, stderr io.Writer) (config.Config, []string, bool) {
	cfg, warns, err := config.Load(config.LoadOptions{Flags: fs})
	if err != nil {
		for _, line := range strings.Split(err.Error(), "\n") {
			fmt.Fprintln(stderr, line)
		}
		return config.Config{}, nil, false
	}
	return cfg, warns, true
}

func printConfig(args []string, stdout, stderr io.Writer) int {
	fs := pflag.NewFlagSet("config", pflag.ContinueOnError)
	markdown := fs.Bool("markdown", false, "print a Markdown table instead of YAML")
	if code, ok := parseFlags(fs, "config", args, stdout, stderr); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "poolnsd config: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	write := config.WriteYAML
	if *markdown {
		write = config.WriteMarkdown
	}
	if err := write(stdout); err != nil {
		fmt.Fprintf(stderr, "poolnsd config: %v\n", err)
		return exitRuntime
	}
	return exitOK
}
