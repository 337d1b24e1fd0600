package cluster

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/poolnsd/poolnsd/internal/netlab"
	"github.com/poolnsd/poolnsd/internal/netlab/labprio"
)

// binary is the poolnsd that TestMain built, labd the lab process ("" when
// namespaces are not available here: every test skips).
var binary, labd string

// unavailable says why the tests skip ("" if they run).
var unavailable string

// TestMain builds poolnsd and the lab process once, without the race
// detector: five registrars probing a thousand elements, and the relay
// and backends serving them, under the race detector need more CPU than
// CI's two cores have to spare (NETLAB_RACE=1 builds poolnsd with it);
// the test process itself (the checker, the harness) is built as go test
// was asked.
func TestMain(m *testing.M) {
	netlab.Main() // the relay process, when this binary is run as one
	unavailable = netlab.Available()
	if unavailable != "" {
		os.Exit(m.Run())
	}
	prio := labprio.Prioritize
	if os.Getenv("NETLAB_RT") == "1" {
		// The checker below the registrars (chrt --rr 5) and the lab
		// process (10), but above everything else on the machine.
		prio = func() error { return labprio.PrioritizeRealTime(3) }
	}
	if err := prio(); err != nil {
		fmt.Fprintf(os.Stderr, "netlab: cannot raise the lab's priority: %v\n", err)
	}
	dir, err := os.MkdirTemp("", "poolnsd-cluster-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "poolnsd")
	// go test puts its own GOROOT/bin first in the PATH of the tests.
	gobin, err := exec.LookPath("go")
	if err != nil {
		fmt.Fprintln(os.Stderr, "the go command, to build poolnsd:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	labd = filepath.Join(dir, "labd")
	args := []string{"build", "-o", binary}
	if os.Getenv("NETLAB_RACE") == "1" {
		args = append(args, "-race")
	}
	for _, b := range [][]string{
		append(args, "github.com/poolnsd/poolnsd/cmd/poolnsd"),
		{"build", "-o", labd, "github.com/poolnsd/poolnsd/internal/netlab/labd"},
	} {
		if out, err := exec.Command(gobin, b...).CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "go %s: %v\n%s", strings.Join(b, " "), err, out)
			os.RemoveAll(dir)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
