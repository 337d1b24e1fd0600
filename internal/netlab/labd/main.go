// Command labd is netlab's lab process (the relay and the backends' HTTP
// servers) as a program of its own, so that a cluster test built with
// -race can run it without the race detector's cost (see
// netlab.Config.LabBinary). It is started by netlab, never by hand.
package main

import (
	"fmt"
	"os"

	"github.com/poolnsd/poolnsd/internal/netlab"
)

func main() {
	netlab.Main()
	fmt.Fprintln(os.Stderr, "labd: run by netlab only (it needs NETLAB_HELPER=lab and a pipe to the test)")
	os.Exit(2)
}
