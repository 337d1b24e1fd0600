package netlab

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Addressing. Everything is inside 198.18.0.0/15 (RFC 2544 benchmarking
// space), which the nodes route only to the hub and the hub only to the
// nodes: the network has no route out, and nothing of it is in the root
// namespace.
var (
	// HubAddr is the hub's address: the nodes' gateway, and where the
	// checker's traffic comes from.
	HubAddr = netip.MustParseAddr("198.18.0.1")
	// netPrefix is the whole network, routed by every node to the hub.
	netPrefix = netip.MustParsePrefix("198.18.0.0/15")
	// nodePrefix holds the nodes' own addresses: 198.18.SITE.N.
	nodePrefix = netip.MustParsePrefix("198.18.0.0/16")
)

// NeighRetrans is the nodes' neighbour (ARP) retransmission time
// (net.ipv4.neigh.DEV.retrans_time_ms), as docs/peering.md asks of a
// registrar's host; the hub, the network, keeps the kernel's 1 s.
const NeighRetrans = 100 * time.Millisecond

// Link and device names inside the hub.
const (
	bridgeName = Prefix + "br"
	tunName    = Prefix + "tun"
	// relayTable is the hub's routing table that sends forwarded packets
	// to the relay.
	relayTable = "100"
)

// Config describes a Net.
type Config struct {
	// Sites are the names of the sites, in order.
	Sites []string
	// Delay returns the one-way delay from a node of site a to a node of
	// site b (a == b inside a site). Nil: no delay.
	Delay func(a, b string) time.Duration
	// LabBinary is the program to run as the lab process (the relay and
	// the backends): a build of ./internal/netlab/labd, so that a test
	// built with -race need not run them under the race detector. ""
	// runs this test binary again instead (its TestMain must call Main).
	LabBinary string
}

// Net is an isolated network: a hub namespace holding a bridge, a TUN
// device and the relay's routing, and a namespace per node, each attached
// to the bridge by a veth pair made inside the hub. Close (registered
// with t.Cleanup by New) removes all of it.
type Net struct {
	name   string // Prefix + PID + "-" + sequence
	sites  []string
	hub    *Node
	helper *labProc // the lab process: the relay and the backends
	relay  *Relay

	mu    sync.Mutex
	nodes []*Node
	perS  []int // nodes made per site, for their addresses
	nblk  int   // address blocks made
}

// Node is one namespace of a Net: a registrar's host, or a backend host
// that also answers on a block of addresses.
type Node struct {
	Name string
	Site string
	// Addr is the node's own address.
	Addr netip.Addr
	// Block is the /24 of addresses the node answers on besides Addr (see
	// AddBlock), the zero Prefix if none.
	Block netip.Prefix

	net  *Net
	ns   *ns
	idx  int // index in the relay's table
	site int
	link string    // its veth's name in the hub
	ran  time.Time // when LinkDown's Heal found the link running (net.mu)
}

var netSeq atomic.Int64

var sweepOnce sync.Once

// Require skips t when namespaces cannot be made here, saying why (in CI
// it fails: see Unavailable).
func Require(t testing.TB) {
	t.Helper()
	if why := Available(); why != "" {
		Unavailable(t, why)
	}
}

// Unavailable ends a test that needs network namespaces where they cannot
// be made, saying why: it skips, except in CI (the environment variable CI
// set, as CI sets it for .ci/run), where it fails, since CI is where these
// tests must run and a skipped one would pass unseen.
func Unavailable(t testing.TB, why string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("netlab: %s; CI (CI=%s) must run this test", why, os.Getenv("CI"))
	}
	t.Skipf("netlab: %s; skipped", why)
}

// New makes a Net for t, removed at its end even if it fails. Before the
// first Net of a process it removes what dead runs left (Sweep).
func New(t testing.TB, cfg Config) *Net {
	t.Helper()
	sweepOnce.Do(func() {
		if gone, err := Sweep(); err != nil {
			t.Logf("netlab: sweeping leftovers: %v", err)
		} else if len(gone) > 0 {
			t.Logf("netlab: removed leftovers of earlier runs: %v", gone)
		}
	})
	if len(cfg.Sites) == 0 || len(cfg.Sites) > 250 {
		t.Fatalf("netlab: %d sites, want 1..250", len(cfg.Sites))
	}
	n := &Net{
		name:  fmt.Sprintf("%s%d-%d", Prefix, os.Getpid(), netSeq.Add(1)),
		sites: cfg.Sites,
		perS:  make([]int, len(cfg.Sites)),
	}
	t.Cleanup(n.Close)
	if err := n.makeHub(cfg); err != nil {
		t.Fatal(err)
	}
	return n
}

// makeHub makes the hub namespace: the bridge with the hub's address, IP
// forwarding, and the policy routing that sends every packet forwarded
// between nodes through the relay's TUN device.
func (n *Net) makeHub(cfg Config) error {
	hub := &ns{name: n.name + "-hub"}
	if err := ipCmd("netns", "add", hub.name); err != nil {
		return err
	}
	n.hub = &Node{Name: "hub", Addr: HubAddr, net: n, ns: hub, idx: -1, site: -1}
	steps := [][]string{
		{"link", "set", "lo", "up"},
		{"link", "add", bridgeName, "type", "bridge"},
		{"link", "set", bridgeName, "up"},
		{"addr", "add", HubAddr.String() + "/32", "dev", bridgeName},
		{"route", "add", nodePrefix.String(), "dev", bridgeName, "scope", "link", "src", HubAddr.String()},
	}
	for _, s := range steps {
		if err := hub.ip(s...); err != nil {
			return err
		}
	}
	for key, v := range map[string]string{
		"net/ipv4/ip_forward":                  "1",
		"net/ipv4/conf/all/rp_filter":          "0",
		"net/ipv4/conf/default/rp_filter":      "0",
		"net/ipv4/conf/all/send_redirects":     "0",
		"net/ipv4/conf/default/send_redirects": "0",
	} {
		if err := hub.sysctl(key, v); err != nil {
			return fmt.Errorf("netlab: sysctl %s in the hub: %v", key, err)
		}
	}
	delay := make([][]time.Duration, len(n.sites))
	for i, a := range n.sites {
		delay[i] = make([]time.Duration, len(n.sites))
		for j, b := range n.sites {
			if cfg.Delay != nil {
				delay[i][j] = cfg.Delay(a, b)
			}
		}
	}
	h, err := startHelper(hub, cfg.LabBinary, tunName, delay)
	if err != nil {
		return err
	}
	n.helper = h
	n.relay = &Relay{h: h}
	for _, s := range [][]string{
		{"link", "set", tunName, "txqueuelen", "10000", "up"},
		{"route", "add", "default", "dev", tunName, "table", relayTable},
		// Forwarded packets (in from the bridge) go to the relay; the
		// local table (preference 0) still delivers the hub's own
		// traffic first, and what the relay writes back comes in on the
		// TUN device and takes the main table.
		{"rule", "add", "iif", bridgeName, "lookup", relayTable, "pref", "100"},
	} {
		if err := hub.ip(s...); err != nil {
			return err
		}
	}
	return nil
}

// Close stops the relay and removes every namespace of the net (killing
// what still runs in them) with their links. It is safe to call twice.
func (n *Net) Close() {
	n.mu.Lock()
	nodes := n.nodes
	n.nodes = nil
	hub := n.hub
	n.hub = nil
	h := n.helper
	n.helper = nil
	n.mu.Unlock()
	if h != nil {
		h.close()
	}
	for _, nd := range nodes {
		nd.ns.remove()
	}
	if hub != nil {
		hub.ns.remove()
	}
}

// Hub returns the hub as a Node: where the checker's sockets live.
func (n *Net) Hub() *Node { return n.hub }

// Relay returns the net's relay.
func (n *Net) Relay() *Relay { return n.relay }

// Name returns the net's name, the start of its namespaces' names.
func (n *Net) Name() string { return n.name }

// AddNode makes a node named name (letters and digits, at most 10) in
// site, with the next address of the site (198.18.SITE.11, .12, ...).
func (n *Net) AddNode(name, site string) (*Node, error) {
	si := -1
	for i, s := range n.sites {
		if s == site {
			si = i
		}
	}
	if si < 0 {
		return nil, fmt.Errorf("netlab: no site %q", site)
	}
	if len(name) == 0 || len(name) > 10 {
		return nil, fmt.Errorf("netlab: node name %q: want 1..10 characters", name)
	}
	n.mu.Lock()
	if n.perS[si] >= 200 {
		n.mu.Unlock()
		return nil, fmt.Errorf("netlab: site %s is full", site)
	}
	n.perS[si]++
	addr := netip.AddrFrom4([4]byte{198, 18, byte(si + 1), byte(10 + n.perS[si])})
	nd := &Node{Name: name, Site: site, Addr: addr, net: n, ns: &ns{name: n.name + "-" + name},
		idx: len(n.nodes), site: si, link: Prefix + name}
	n.nodes = append(n.nodes, nd)
	n.mu.Unlock()
	if err := ipCmd("netns", "add", nd.ns.name); err != nil {
		return nil, err
	}
	hub := n.hub.ns
	gw := HubAddr.String()
	for _, s := range []struct {
		in   *ns
		args []string
	}{
		{hub, []string{"link", "add", nd.link, "type", "veth", "peer", "name", "eth0", "netns", nd.ns.name}},
		{hub, []string{"link", "set", nd.link, "master", bridgeName, "up"}},
		{nd.ns, []string{"link", "set", "lo", "up"}},
		{nd.ns, []string{"link", "set", "eth0", "up"}},
		{nd.ns, []string{"addr", "add", addr.String() + "/32", "dev", "eth0"}},
		{nd.ns, []string{"route", "add", gw, "dev", "eth0", "scope", "link"}},
		{nd.ns, []string{"route", "add", netPrefix.String(), "via", gw, "dev", "eth0", "src", addr.String()}},
	} {
		if err := s.in.ip(s.args...); err != nil {
			return nil, err
		}
	}
	// TCP Fast Open both ways, as docs/peering.md asks of a registrar's
	// host (the sysctl is per namespace; a new one has the client side
	// only).
	if err := nd.ns.sysctl("net/ipv4/tcp_fastopen", "3"); err != nil {
		return nil, fmt.Errorf("netlab: sysctl net.ipv4.tcp_fastopen in %s: %v", nd.Name, err)
	}
	// And the neighbour (ARP) retransmission time of docs/peering.md:
	// after a link comes back, nothing leaves the node until its next
	// ARP request for the hub, which the kernel's default (1 s) sends up
	// to a second later (the hub's own request for the node as late).
	// (A namespace other than the first has no neigh/default.)
	key := "net/ipv4/neigh/eth0/retrans_time_ms"
	if err := nd.ns.sysctl(key, strconv.Itoa(int(NeighRetrans/time.Millisecond))); err != nil {
		return nil, fmt.Errorf("netlab: sysctl %s in %s: %v", key, nd.Name, err)
	}
	if err := n.relay.place(netip.PrefixFrom(addr, 32), nd.idx, si); err != nil {
		return nil, err
	}
	return nd, nil
}

// AddBlock gives the node a /24 of 198.19.0.0/16 that it answers on as a
// whole (a local route: any address of it is the node's, so that one
// listener on 0.0.0.0 serves them all). It is routed to the node by the
// hub and placed in the node's site by the relay.
func (nd *Node) AddBlock() (netip.Prefix, error) {
	n := nd.net
	n.mu.Lock()
	if n.nblk >= 255 {
		n.mu.Unlock()
		return netip.Prefix{}, fmt.Errorf("netlab: no address block left")
	}
	n.nblk++
	p := netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 19, byte(n.nblk), 0}), 24)
	nd.Block = p
	n.mu.Unlock()
	if err := nd.ns.ip("route", "add", "local", p.String(), "dev", "lo"); err != nil {
		return netip.Prefix{}, err
	}
	if err := n.hub.ns.ip("route", "add", p.String(), "via", nd.Addr.String(), "dev", bridgeName); err != nil {
		return netip.Prefix{}, err
	}
	if err := n.relay.place(p, nd.idx, nd.site); err != nil {
		return netip.Prefix{}, err
	}
	return p, nil
}

// Namespace returns the name of the node's network namespace.
func (nd *Node) Namespace() string { return nd.ns.name }

// Do runs fn on an OS thread inside the node's namespace (see the package
// doc: sockets opened by fn stay there).
func (nd *Node) Do(fn func() error) error { return nd.ns.Do(fn) }

// Listen is net.Listen inside the node's namespace.
func (nd *Node) Listen(network, addr string) (ln net.Listener, err error) {
	err = nd.Do(func() error { ln, err = net.Listen(network, addr); return err })
	return ln, err
}

// ListenPacket is net.ListenPacket inside the node's namespace.
func (nd *Node) ListenPacket(network, addr string) (pc net.PacketConn, err error) {
	err = nd.Do(func() error { pc, err = net.ListenPacket(network, addr); return err })
	return pc, err
}

// DialContext dials from inside the node's namespace (the signature of
// http.Transport.DialContext).
func (nd *Node) DialContext(ctx context.Context, network, addr string) (c net.Conn, err error) {
	var d net.Dialer
	err = nd.Do(func() error { c, err = d.DialContext(ctx, network, addr); return err })
	return c, err
}

// Command returns a command that runs inside the node's namespace (see
// ns.Command).
func (nd *Node) Command(name string, args ...string) *exec.Cmd { return nd.ns.Command(name, args...) }

// IP runs ip(8) with args inside the node's namespace (for what Fault
// does not cover).
func (nd *Node) IP(args ...string) error { return nd.ns.ip(args...) }
