package netlab

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"
)

// Fault is one fault of the network or of a process, with its repair.
// Inject and Heal return the time they took effect (just after the change
// was made), so that the measures count from there.
type Fault struct {
	// Name says what it is: "link down r3", "split r1,r2|r3,r4,r5".
	Name string
	// Inject makes the fault.
	Inject func() (time.Time, error)
	// Heal undoes it; nil for a fault that is not undone (kill -9: a
	// restart is a fault of its own).
	Heal func() (time.Time, error)
}

// LinkDown is a node's link taken down at the hub's end, as a cable
// pulled at the switch: the node keeps its address and routes, and
// reaches nothing, and nothing reaches it, until Heal. Inject and Heal
// return the kernel's acknowledgement of the change (rtnetlink, see
// setLink): nothing crosses after the one, nor before the other. Heal
// returns once both ends of the link run again (the carrier on at the
// node and at the hub's bridge), which the kernel does in a worker of
// its own: on a loaded machine up to half a second after the
// acknowledgement (the node's first ARP request 541 ms after it), time
// the registrars can do nothing about but that the measures from the
// heal include; Node.LinkRan says when it was found running.
func (nd *Node) LinkDown() Fault {
	hub := nd.net.hub.ns
	return Fault{Name: "link down " + nd.Name,
		Inject: func() (time.Time, error) { return hub.setLink(nd.link, false) },
		Heal: func() (time.Time, error) {
			at, err := hub.setLink(nd.link, true)
			if err != nil {
				return at, err
			}
			ran, err := nd.waitRunning(5 * time.Second)
			nd.net.mu.Lock()
			nd.ran = ran
			nd.net.mu.Unlock()
			return at, err
		}}
}

// LinkRan returns when the node's link was last found running again
// after LinkDown's Heal (its first poll that found it so; the zero Time
// if never healed).
func (nd *Node) LinkRan() time.Time {
	nd.net.mu.Lock()
	defer nd.net.mu.Unlock()
	return nd.ran
}

// waitRunning waits (up to limit) until the node's link runs at both
// ends (IFF_RUNNING: up, with its carrier), and returns when it found so.
func (nd *Node) waitRunning(limit time.Duration) (time.Time, error) {
	running := func(n *ns, dev string) bool {
		ok := false
		n.Do(func() error {
			ifi, err := net.InterfaceByName(dev)
			ok = err == nil && ifi.Flags&net.FlagRunning != 0
			return nil
		})
		return ok
	}
	deadline := time.Now().Add(limit)
	for {
		if running(nd.net.hub.ns, nd.link) && running(nd.ns, "eth0") {
			return time.Now(), nil
		}
		if time.Now().After(deadline) {
			return time.Now(), fmt.Errorf("netlab: %s's link does not run %v after it was set up", nd.Name, limit)
		}
		time.Sleep(time.Millisecond) // the kernel's worker, not an event this process can wait on
	}
}

// Blackhole is a blackhole route to p in the node's namespace: the node
// alone cannot reach p (its packets to p are discarded before they leave;
// a connect fails at once), everyone else still can.
func (nd *Node) Blackhole(p netip.Prefix) Fault {
	route := func(op string) func() (time.Time, error) {
		return func() (time.Time, error) {
			err := nd.ns.ip("route", op, "blackhole", p.String())
			return time.Now(), err
		}
	}
	return Fault{Name: fmt.Sprintf("blackhole %s at %s", p, nd.Name), Inject: route("add"), Heal: route("del")}
}

// Split partitions the nodes into groups: the relay drops every packet
// between two nodes of different groups (in both directions), silently,
// as a broken network would; inside a group, and between any node and a
// node in no group, packets pass. The hub (the checker) still reaches
// every node.
func (n *Net) Split(groups ...[]*Node) Fault {
	var names []string
	for _, g := range groups {
		var ns []string
		for _, nd := range g {
			ns = append(ns, nd.Name)
		}
		names = append(names, strings.Join(ns, ","))
	}
	set := func(on bool) func() (time.Time, error) {
		return func() (time.Time, error) {
			for i, a := range groups {
				for _, b := range groups[i+1:] {
					for _, x := range a {
						for _, y := range b {
							if err := n.relay.setCut(x.idx, y.idx, on); err != nil {
								return time.Now(), err
							}
						}
					}
				}
			}
			return time.Now(), nil
		}
	}
	return Fault{Name: "split " + strings.Join(names, "|"), Inject: set(true), Heal: set(false)}
}
