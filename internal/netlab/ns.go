package netlab

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// Prefix starts the name of every namespace this package makes:
// Prefix + the owning process's PID + "-" + a sequence number + "-" + the
// node's name ("pnl-4242-1-hub"). Links inside the namespaces start with it
// too. Sweep removes what a dead owner left.
const Prefix = "pnl-"

// netnsDir is where ip(8) keeps the names of network namespaces.
const netnsDir = "/run/netns"

// Available reports why namespaces cannot be made here ("" if they can):
// it needs root, the ip command (iproute2) and /dev/net/tun, and tries to
// make and remove one namespace.
func Available() string {
	if os.Geteuid() != 0 {
		return "network namespaces need root (run make test-cluster as root, as CI does)"
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return "the ip command is missing (apt-get install iproute2)"
	}
	if f, err := os.OpenFile("/dev/net/tun", os.O_RDWR, 0); err != nil {
		return fmt.Sprintf("no TUN device for the delaying relay: %v", err)
	} else {
		f.Close()
	}
	name := fmt.Sprintf("%s%d-probe", Prefix, os.Getpid())
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		return fmt.Sprintf("cannot make a network namespace (ip netns add): %v: %s", err, bytes.TrimSpace(out))
	}
	exec.Command("ip", "netns", "del", name).Run()
	return ""
}

// ns is one named network namespace.
type ns struct {
	name string
}

// ip runs ip(8) with args inside the namespace (ip -n NAME args...).
func (n *ns) ip(args ...string) error {
	return ipCmd(append([]string{"-n", n.name}, args...)...)
}

// ipCmd runs ip(8) with args; its error quotes the command and its output.
func ipCmd(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("netlab: ip %s: %v: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

// sysctl sets a sysctl inside the namespace; key is its /proc/sys path
// below /proc/sys ("net/ipv4/ip_forward").
func (n *ns) sysctl(key, value string) error {
	return n.Do(func() error {
		// /proc/sys/net/... opens the entries of the opening thread's
		// network namespace.
		return os.WriteFile(filepath.Join("/proc/sys", key), []byte(value), 0o644)
	})
}

// Do runs fn on an OS thread that has entered the namespace. Sockets that
// fn opens stay in the namespace for their whole life, whichever goroutine
// uses them afterwards; fn must not start goroutines that open sockets.
func (n *ns) Do(fn func() error) error {
	type result struct{ err error }
	done := make(chan result, 1)
	go func() {
		// The thread is locked for good unless it goes back to its own
		// namespace: a goroutine that exits locked takes its thread with
		// it, so no other goroutine ever runs in the wrong namespace.
		runtime.LockOSThread()
		self, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			done <- result{fmt.Errorf("netlab: %v", err)}
			return
		}
		defer self.Close()
		target, err := os.Open(filepath.Join(netnsDir, n.name))
		if err != nil {
			done <- result{fmt.Errorf("netlab: namespace %s: %v", n.name, err)}
			return
		}
		defer target.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			done <- result{fmt.Errorf("netlab: enter namespace %s: %v", n.name, err)}
			return
		}
		ferr := fn()
		if err := unix.Setns(int(self.Fd()), unix.CLONE_NEWNET); err == nil {
			runtime.UnlockOSThread()
		}
		done <- result{ferr}
	}()
	return (<-done).err
}

// Command returns a command that runs name with args inside the namespace
// (through ip netns exec, which execs it: the process's PID is the
// program's own). The process gets SIGKILL if the test's process dies.
func (n *ns) Command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command("ip", append([]string{"netns", "exec", n.name, name}, args...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	return cmd
}

// pids returns the processes inside the namespace.
func (n *ns) pids() []int {
	out, err := exec.Command("ip", "netns", "pids", n.name).Output()
	if err != nil {
		return nil
	}
	var ps []int
	for _, f := range strings.Fields(string(out)) {
		if p, err := strconv.Atoi(f); err == nil {
			ps = append(ps, p)
		}
	}
	return ps
}

// remove kills every process left inside the namespace (by PID) and
// deletes it; the links inside go with it.
func (n *ns) remove() error {
	for _, p := range n.pids() {
		syscall.Kill(p, syscall.SIGKILL)
	}
	return ipCmd("netns", "del", n.name)
}

// Sweep removes the namespaces (and kills the processes inside them) that
// an earlier run of this package left behind: those whose name starts
// with Prefix and whose owning process no longer runs. It returns what it
// removed.
func Sweep() ([]string, error) {
	ents, err := os.ReadDir(netnsDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var removed []string
	var errs []error
	for _, e := range ents {
		name := e.Name()
		owner, ok := ownerOf(name)
		if !ok || owner == os.Getpid() {
			continue
		}
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", owner)); err == nil {
			continue // its owner still runs (another test binary)
		}
		if err := (&ns{name: name}).remove(); err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, name)
	}
	return removed, errors.Join(errs...)
}

// ownerOf returns the PID in a namespace name made by this package.
func ownerOf(name string) (int, bool) {
	rest, ok := strings.CutPrefix(name, Prefix)
	if !ok {
		return 0, false
	}
	pid, _, _ := strings.Cut(rest, "-")
	p, err := strconv.Atoi(pid)
	return p, err == nil && p > 0
}
