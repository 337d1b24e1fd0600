package netlab

import (
	"bufio"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Capture records, with dumpcap (Wireshark), the packets that match
// filter (a capture filter: "arp or tcp port 9901") on the hub's bridge
// into dir/NAME-hub.pcapng until the test ends. Every packet between two
// nodes crosses the bridge twice, to the relay and back from it (at
// each node's own time: the first crossing is when the node sent it,
// the second when the relay delivered it), and so do the nodes' ARP
// exchanges with the hub; the checker's packets cross once. For finding
// out what a fault does to the traffic, not for the tests' measures.
func (n *Net) Capture(t testing.TB, dir, filter string) (string, error) {
	t.Helper()
	path := filepath.Join(dir, n.name+"-hub.pcapng")
	cmd := n.hub.ns.Command("dumpcap", "-q", "-B", "64", "-i", bridgeName, "-f", filter, "-w", path)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return "", err
	}
	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("netlab: dumpcap: %v", err)
	}
	started := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		ok := false
		for sc.Scan() {
			if !ok && strings.Contains(sc.Text(), "Capturing on") {
				ok = true
				started <- true
			}
		}
		if !ok {
			started <- false
		}
		io.Copy(io.Discard, stderr)
	}()
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGINT) // dumpcap writes what it has and exits
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	})
	timer := time.NewTimer(10 * time.Second)
	defer timer.Stop()
	select {
	case ok := <-started:
		if !ok {
			return "", fmt.Errorf("netlab: dumpcap did not start capturing on the hub's bridge")
		}
	case <-timer.C:
		return "", fmt.Errorf("netlab: dumpcap did not start capturing on the hub's bridge within 10 s")
	}
	return path, nil
}
