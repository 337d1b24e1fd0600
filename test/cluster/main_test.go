package cluster

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/poolnsd/poolnsd/internal/netlab"
)

// binary is the poolnsd that TestMain built ("" when namespaces are not
// available here: every test skips).
var binary string

// unavailable says why the tests skip ("" if they run).
var unavailable string

// TestMain builds poolnsd once (with -race when NETLAB_RACE=1: five
// registrars probing a thousand elements under the race detector need
// more CPU than CI's two cores have to spare, so by default the
// registrars are built without it; the test process itself is built as
// go test was asked).
func TestMain(m *testing.M) {
	netlab.Main() // the relay process, when this binary is run as one
	unavailable = netlab.Available()
	if unavailable != "" {
		os.Exit(m.Run())
	}
	if err := netlab.Prioritize(); err != nil {
		fmt.Fprintf(os.Stderr, "netlab: cannot raise the lab's priority: %v\n", err)
	}
	dir, err := os.MkdirTemp("", "poolnsd-cluster-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "poolnsd")
	gobin, err := exec.LookPath("go")
	if err != nil {
		gobin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	args := []string{"build", "-o", binary}
	if os.Getenv("NETLAB_RACE") == "1" {
		args = append(args, "-race")
	}
	build := exec.Command(gobin, append(args, "github.com/poolnsd/poolnsd/cmd/poolnsd")...)
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
