package netlab

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/poolnsd/poolnsd/enrp/enrptest"
	"github.com/poolnsd/poolnsd/internal/netlab/dnsq"
	"github.com/poolnsd/poolnsd/internal/proctest"
)

// Ports of a registrar on its node's address (each node is a namespace of
// its own, so fixed ports collide with nothing).
const (
	DNSPort  = 53
	HTTPPort = 8053
	ENRPPort = 9901
)

// Credentials the cluster's registrars accept for registrations.
const (
	// Token is the HTTP API's bearer token.
	Token = "netlab-token"
	// TSIGKey is the name of the DNS UPDATE key (hmac-sha256).
	TSIGKey = "netlab-key."
)

// TSIGSecret is TSIGKey's secret, in base64.
var TSIGSecret = base64.StdEncoding.EncodeToString([]byte("netlab-tsig-secret-of-32-bytes!!"))

// ClusterConfig describes a cluster of poolnsd registrars.
type ClusterConfig struct {
	// Binary is the poolnsd to run.
	Binary string
	// Zones are the zone files every registrar serves: file name (e.g.
	// "pool.example.zone") to text.
	Zones map[string]string
	// Presence, LastHeard and NoResponse are enrp.presence_interval,
	// enrp.max_time_last_heard and enrp.max_time_no_response.
	Presence, LastHeard, NoResponse time.Duration
	// Extra is more of the config file, top-level YAML keys (it must not
	// repeat the keys that Start writes: dns, http, zones, zones_watch,
	// data, log, tsig, registration, enrp).
	Extra string
	// LogDir, if not "", keeps each registrar's log there as NAME.log
	// (every start appended), beside the tails printed on failure.
	LogDir string
	// LogLevel is the registrars' log.level ("" is info; debug adds
	// every peering event and connection, for a look at where the time
	// of a heal goes).
	LogLevel string
	// RealTime runs the registrars at real-time round-robin priority
	// (chrt --rr 5, below the lab process's 10), so that other work on a
	// shared machine does not starve them; false runs them at the test's
	// nice value (labprio.Nice, after labprio.Prioritize).
	RealTime bool
}

// Cluster is a set of poolnsd registrars, one per node, each peering with
// all the others over TLS (certificates from one test CA).
type Cluster struct {
	Regs []*Registrar

	t      testing.TB
	cfg    ClusterConfig
	client *http.Client
	ca     *enrptest.CA
}

// Registrar is one poolnsd process of a Cluster, on its node.
type Registrar struct {
	Name string
	Node *Node
	// Dir is its working directory: config, zones, data.
	Dir string
	// ID is its registrar ID, 8 hex digits (known once it was ready).
	ID string

	c *Cluster

	mu     sync.Mutex
	proc   *proctest.Proc
	state  RegState
	starts int
	log    *os.File // LogDir's file, nil if none
}

// RegState is what a registrar's process is doing.
type RegState int

// The states of a registrar's process.
const (
	Running RegState = iota
	Stopped          // SIGSTOP
	Exited           // killed, or exited
)

func (s RegState) String() string { return [...]string{"running", "stopped", "exited"}[s] }

// NewCluster prepares a registrar on each node (working directory,
// certificate, config) without starting any; Start starts them.
func NewCluster(t testing.TB, nodes []*Node, cfg ClusterConfig) *Cluster {
	t.Helper()
	ca, err := enrptest.NewCA("netlab test CA")
	if err != nil {
		t.Fatal(err)
	}
	hub := nodes[0].net.Hub()
	c := &Cluster{t: t, cfg: cfg, ca: ca, client: &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{DialContext: hub.DialContext, DisableCompression: true,
			MaxIdleConnsPerHost: 4, IdleConnTimeout: 30 * time.Second},
	}}
	for _, nd := range nodes {
		r := &Registrar{Name: nd.Name, Node: nd, Dir: t.TempDir(), c: c, state: Exited}
		c.Regs = append(c.Regs, r)
	}
	for _, r := range c.Regs {
		if err := r.writeConfig(); err != nil {
			t.Fatal(err)
		}
		if cfg.LogDir != "" {
			f, err := os.OpenFile(filepath.Join(cfg.LogDir, r.Name+".log"), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
			if err != nil {
				t.Fatal(err)
			}
			r.log = f
		}
	}
	t.Cleanup(func() {
		for _, r := range c.Regs {
			r.mu.Lock()
			p := r.proc
			r.mu.Unlock()
			if p == nil {
				continue
			}
			p.Cmd.Process.Signal(syscall.SIGCONT)
			p.Kill()
			if t.Failed() {
				t.Logf("registrar %s (%s, %s): the last lines of its log:\n%s", r.Name, r.ID, r.Node.Addr, p.Tail(40))
			}
			if r.log != nil {
				r.log.Close()
			}
		}
	})
	return c
}

// Addr returns the registrar's address for port.
func (r *Registrar) Addr(port int) string {
	return net.JoinHostPort(r.Node.Addr.String(), fmt.Sprint(port))
}

func (r *Registrar) writeConfig() error {
	c := r.c
	ip := r.Node.Addr.String()
	f, err := c.ca.WriteFiles(r.Dir, r.Name, ip)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(r.Dir, "zones"), 0o755); err != nil {
		return err
	}
	for name, text := range c.cfg.Zones {
		if err := os.WriteFile(filepath.Join(r.Dir, "zones", name), []byte(text), 0o644); err != nil {
			return err
		}
	}
	level := c.cfg.LogLevel
	if level == "" {
		level = "info"
	}
	var peers []string
	for _, o := range c.Regs {
		if o != r {
			peers = append(peers, fmt.Sprintf("%q", o.Addr(ENRPPort)))
		}
	}
	cfg := fmt.Sprintf(`dns:
  listen: [%q]
  udp_sockets: 1
http:
  listen: %q
  token: %q
zones: zones
zones_watch: false
data: data
log:
  level: %s
  format: json
tsig:
  - name: %s
    algorithm: hmac-sha256
    secret: %q
registration:
  rate: 100000
  burst: 100000
enrp:
  listen: %q
  advertise: %q
  peers: [%s]
  tls: {cert: %q, key: %q, ca: %q}
  presence_interval: %v
  max_time_last_heard: %v
  max_time_no_response: %v
%s`, r.Addr(DNSPort), r.Addr(HTTPPort), Token, level, TSIGKey, TSIGSecret,
		r.Addr(ENRPPort), r.Addr(ENRPPort), strings.Join(peers, ", "), f.Cert, f.Key, f.CA,
		c.cfg.Presence, c.cfg.LastHeard, c.cfg.NoResponse, c.cfg.Extra)
	return os.WriteFile(filepath.Join(r.Dir, "poolnsd.yaml"), []byte(cfg), 0o644)
}

// childEnv is the environment of the registrars: the test's own without
// POOLNSD_ variables, and without the race detector's wait at exit.
func childEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "POOLNSD_") && !strings.HasPrefix(kv, "GORACE=") && !strings.HasPrefix(kv, "NOTIFY_SOCKET=") {
			env = append(env, kv)
		}
	}
	return append(env, "GORACE=atexit_sleep_ms=0 halt_on_error=1")
}

// Start starts every registrar and waits until each is ready and has
// heard from every other (peer-up), within limit.
func (c *Cluster) Start(limit time.Duration) error {
	for _, r := range c.Regs {
		if err := r.start(); err != nil {
			return err
		}
	}
	deadline := time.Now().Add(limit)
	for _, r := range c.Regs {
		if err := r.WaitReady(time.Until(deadline)); err != nil {
			return err
		}
	}
	for _, r := range c.Regs {
		for _, o := range c.Regs {
			if o == r {
				continue
			}
			if _, err := r.WaitLog(0, time.Until(deadline), EventIs("peer-up", "peer", o.ID)); err != nil {
				return fmt.Errorf("netlab: %s did not hear from %s: %v", r.Name, o.Name, err)
			}
		}
	}
	return nil
}

// start starts the registrar's process (not waiting for it to be ready).
func (r *Registrar) start() error {
	cmd := r.Node.Command(r.c.cfg.Binary, "serve")
	if r.c.cfg.RealTime {
		cmd = r.Node.Command("chrt", "--rr", "5", r.c.cfg.Binary, "serve")
	}
	cmd.Dir = r.Dir
	cmd.Env = childEnv()
	var tee io.Writer
	if r.log != nil {
		tee = r.log
	}
	p, err := proctest.Start(cmd, tee)
	if err != nil {
		return fmt.Errorf("netlab: start %s: %v", r.Name, err)
	}
	r.mu.Lock()
	r.proc, r.state = p, Running
	r.starts++
	r.mu.Unlock()
	return nil
}

// WaitReady waits for the current process's "ready" line and takes the
// registrar ID from it.
func (r *Registrar) WaitReady(limit time.Duration) error {
	rec, err := r.WaitLog(0, limit, proctest.MsgIs("ready"))
	if err != nil {
		return fmt.Errorf("netlab: %s not ready: %v\n%s", r.Name, err, r.Proc().Tail(20))
	}
	r.mu.Lock()
	r.ID = rec.Str("registrar")
	r.mu.Unlock()
	return nil
}

// Proc returns the registrar's current process (nil before it started).
func (r *Registrar) Proc() *proctest.Proc {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.proc
}

// State returns what the registrar's process is doing.
func (r *Registrar) State() RegState {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.proc != nil && r.state != Exited {
		select {
		case <-r.proc.Done():
			r.state = Exited
		default:
		}
	}
	return r.state
}

// Starts counts the registrar's process starts.
func (r *Registrar) Starts() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.starts
}

// WaitLog waits up to limit for a JSON log record of the current process,
// from its line from on, that match accepts.
func (r *Registrar) WaitLog(from int, limit time.Duration, match func(proctest.Rec) bool) (proctest.Rec, error) {
	rec, _, err := r.Proc().Wait(from, limit, match)
	return rec, err
}

// EventIs matches the peering events (the "event" field) named event,
// with the fields kv (name, value, ...).
func EventIs(event string, kv ...string) func(proctest.Rec) bool {
	return func(r proctest.Rec) bool {
		if r.Str("event") != event {
			return false
		}
		for i := 0; i+1 < len(kv); i += 2 {
			if r.Str(kv[i]) != kv[i+1] {
				return false
			}
		}
		return true
	}
}

// signal sends the current process sig.
func (r *Registrar) signal(sig syscall.Signal) error {
	p := r.Proc()
	if p == nil {
		return fmt.Errorf("netlab: %s never started", r.Name)
	}
	return p.Cmd.Process.Signal(sig)
}

// Kill is kill -9 of the registrar (no heal: Restart is a fault of its
// own). Inject returns once the process is gone.
func (r *Registrar) Kill() Fault {
	return Fault{Name: "kill -9 " + r.Name, Inject: func() (time.Time, error) {
		err := r.signal(syscall.SIGKILL)
		at := time.Now()
		r.Proc().WaitExit(10 * time.Second)
		r.mu.Lock()
		r.state = Exited
		r.mu.Unlock()
		return at, err
	}}
}

// Freeze is SIGSTOP of the registrar, healed by SIGCONT.
func (r *Registrar) Freeze() Fault {
	set := func(sig syscall.Signal, st RegState) func() (time.Time, error) {
		return func() (time.Time, error) {
			err := r.signal(sig)
			at := time.Now()
			r.mu.Lock()
			r.state = st
			r.mu.Unlock()
			return at, err
		}
	}
	return Fault{Name: "SIGSTOP " + r.Name, Inject: set(syscall.SIGSTOP, Stopped), Heal: set(syscall.SIGCONT, Running)}
}

// Term is SIGTERM to the registrar. Inject returns when the signal was
// sent; TermExit waits for the exit.
func (r *Registrar) Term() Fault {
	return Fault{Name: "SIGTERM " + r.Name, Inject: func() (time.Time, error) {
		err := r.signal(syscall.SIGTERM)
		return time.Now(), err
	}}
}

// WaitExit waits up to limit for the current process to exit and returns
// its exit code and when it was seen to exit.
func (r *Registrar) WaitExit(limit time.Duration) (int, time.Time, error) {
	code, err := r.Proc().WaitExit(limit)
	at := time.Now()
	if err == nil {
		r.mu.Lock()
		r.state = Exited
		r.mu.Unlock()
	}
	return code, at, err
}

// Restart starts the registrar again (after Kill or Term; Inject kills a
// process that still runs first) and waits until it is ready: Inject's
// time is when it was seen ready.
func (r *Registrar) Restart() Fault {
	return Fault{Name: "restart " + r.Name, Inject: func() (time.Time, error) {
		if p := r.Proc(); p != nil {
			p.Cmd.Process.Signal(syscall.SIGCONT)
			p.Kill()
		}
		if err := r.start(); err != nil {
			return time.Now(), err
		}
		err := r.WaitReady(30 * time.Second)
		return time.Now(), err
	}}
}

// statusJSON is the part of GET /v1/status that Digest reads.
type statusJSON struct {
	Registrar string `json:"registrar"`
	Pools     []struct {
		Name     string `json:"name"`
		Elements []struct {
			ID        string   `json:"id"`
			Addresses []string `json:"addresses"`
			Port      uint16   `json:"port"`
			Health    string   `json:"health"`
			Admin     string   `json:"admin"`
			Home      string   `json:"home"`
			Reported  bool     `json:"reported"`
		} `json:"elements"`
	} `json:"pools"`
}

// Digest is a registrar's handlespace as its status API shows it, hashed:
// every pool's elements with their addresses, port, health,
// administrative state, home and report state. Two registrars that agree
// on all of that have equal digests.
type Digest struct {
	Hash     string // hex SHA-256 of the sorted lines
	Elements int
	// Lines are the element lines, sorted (for a diff).
	Lines []string
}

// Digest fetches the registrar's status and digests it.
func (r *Registrar) Digest(ctx context.Context) (Digest, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+r.Addr(HTTPPort)+"/v1/status", nil)
	if err != nil {
		return Digest{}, err
	}
	resp, err := r.c.client.Do(req)
	if err != nil {
		return Digest{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return Digest{}, fmt.Errorf("netlab: %s status: %s", r.Name, resp.Status)
	}
	var st statusJSON
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return Digest{}, fmt.Errorf("netlab: %s status: %v", r.Name, err)
	}
	var lines []string
	for _, p := range st.Pools {
		for _, e := range p.Elements {
			lines = append(lines, fmt.Sprintf("%s %s %s:%d %s %s home=%s reported=%t",
				p.Name, e.ID, strings.Join(e.Addresses, ","), e.Port, e.Health, e.Admin, e.Home, e.Reported))
		}
	}
	slices.Sort(lines)
	h := sha256.Sum256([]byte(strings.Join(lines, "\n")))
	return Digest{Hash: hex.EncodeToString(h[:8]), Elements: len(lines), Lines: lines}, nil
}

// PoolAddrs returns the addresses of pool's elements that the registrar's
// API lists (served or not), by element.
func (r *Registrar) PoolAddrs(ctx context.Context, pool string) (map[netip.Addr]bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+r.Addr(HTTPPort)+"/v1/pools/"+pool, nil)
	if err != nil {
		return nil, err
	}
	resp, err := r.c.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return map[netip.Addr]bool{}, nil
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("netlab: %s pool %s: %s", r.Name, pool, resp.Status)
	}
	var p struct {
		Elements []struct {
			Addresses []string `json:"addresses"`
		} `json:"elements"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&p); err != nil {
		return nil, err
	}
	out := map[netip.Addr]bool{}
	for _, e := range p.Elements {
		for _, a := range e.Addresses {
			if ip, err := netip.ParseAddr(a); err == nil {
				out[ip] = true
			}
		}
	}
	return out, nil
}

// Homes returns, for each element address of the registrar's handlespace,
// its home registrar's ID.
func (r *Registrar) Homes(ctx context.Context) (map[netip.Addr]string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+r.Addr(HTTPPort)+"/v1/status", nil)
	if err != nil {
		return nil, err
	}
	resp, err := r.c.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var st statusJSON
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return nil, err
	}
	out := map[netip.Addr]string{}
	for _, p := range st.Pools {
		for _, e := range p.Elements {
			for _, a := range e.Addresses {
				if ip, err := netip.ParseAddr(a); err == nil {
					out[ip] = e.Home
				}
			}
		}
	}
	return out, nil
}

// Via says how a registration is sent.
type Via int

// The ways of registering.
const (
	ViaHTTP Via = iota // PUT/DELETE /v1/pools/{pool}/elements/{pe} with Token
	ViaDNS             // DNS UPDATE signed with TSIGKey
)

func (v Via) String() string { return [...]string{"http", "dns"}[v] }

// Register registers element label of pool (a name under a served zone,
// with its final dot) at address addr:port with a lease of lease, and
// returns nil once the registrar acknowledged it.
func (r *Registrar) Register(ctx context.Context, via Via, pool, label string, addr netip.Addr, port uint16, lease time.Duration) error {
	if via == ViaDNS {
		name := label + "." + pool
		m := new(dns.Msg)
		m.SetUpdate(zoneOf(pool))
		ttl := uint32(lease / time.Second)
		m.Insert([]dns.RR{
			&dns.SRV{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeSRV, Class: dns.ClassINET, Ttl: ttl}, Port: port, Weight: 1, Target: name},
			&dns.A{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: ttl}, A: net.IP(addr.AsSlice())},
		})
		return r.update(ctx, m)
	}
	body := fmt.Sprintf(`{"addresses":[%q],"port":%d,"lease":%d}`, addr, port, int(lease/time.Second))
	return r.api(ctx, http.MethodPut, "/v1/pools/"+pool+"/elements/"+label, body)
}

// Deregister deregisters element label of pool and returns nil once the
// registrar acknowledged it.
func (r *Registrar) Deregister(ctx context.Context, via Via, pool, label string) error {
	if via == ViaDNS {
		m := new(dns.Msg)
		m.SetUpdate(zoneOf(pool))
		m.RemoveName([]dns.RR{&dns.ANY{Hdr: dns.RR_Header{Name: label + "." + pool}}})
		return r.update(ctx, m)
	}
	return r.api(ctx, http.MethodDelete, "/v1/pools/"+pool+"/elements/"+label, "")
}

// zoneOf returns the parent of a pool name: its zone.
func zoneOf(pool string) string {
	_, z, _ := strings.Cut(pool, ".")
	return z
}

// update sends a DNS UPDATE, signed, from the hub.
func (r *Registrar) update(ctx context.Context, m *dns.Msg) error {
	m.SetTsig(TSIGKey, dns.HmacSHA256, 300, time.Now().Unix())
	conn, err := r.Node.net.Hub().DialContext(ctx, "udp", r.Addr(DNSPort))
	if err != nil {
		return err
	}
	defer conn.Close()
	c := &dns.Client{Net: "udp", Timeout: 5 * time.Second, TsigSecret: map[string]string{TSIGKey: TSIGSecret}}
	resp, _, err := c.ExchangeWithConnContext(ctx, m, &dns.Conn{Conn: conn})
	if err != nil {
		return fmt.Errorf("netlab: update at %s: %v", r.Name, err)
	}
	if resp.Rcode != dns.RcodeSuccess {
		return fmt.Errorf("netlab: update at %s: %s", r.Name, dns.RcodeToString[resp.Rcode])
	}
	return nil
}

// api sends an authorized request to the registrar's HTTP API and wants a
// 2xx status.
func (r *Registrar) api(ctx context.Context, method, path, body string) error {
	req, err := http.NewRequestWithContext(ctx, method, "http://"+r.Addr(HTTPPort)+path, strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+Token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := r.c.client.Do(req)
	if err != nil {
		return fmt.Errorf("netlab: %s %s at %s: %v", method, path, r.Name, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("netlab: %s %s at %s: %s %s", method, path, r.Name, resp.Status, bytes.TrimSpace(b))
	}
	return nil
}

// ErrNotConverged is Converge's error when the digests still differ at
// its limit.
var ErrNotConverged = errors.New("netlab: the registrars' digests differ")

// WaitServing asks every running registrar for every pool until each
// answer lists all of the pool's elements, for up to limit.
func (c *Cluster) WaitServing(pools []Pool, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	hub := c.Regs[0].Node.net.Hub()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for _, r := range c.Regs {
		if r.State() != Running {
			continue
		}
		var conn net.Conn
		if err := hub.Do(func() (err error) { conn, err = net.Dial("udp", r.Addr(DNSPort)); return err }); err != nil {
			return err
		}
		err := func() error {
			defer conn.Close()
			buf := make([]byte, 65536)
			for _, p := range pools {
				q, err := dnsq.PackQuery(p.Name)
				if err != nil {
					return err
				}
				for id := uint16(1); ; id++ {
					dnsq.SetID(q, id)
					conn.Write(q)
					conn.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
					var got []netip.Addr
					for {
						n, err := conn.Read(buf)
						if err != nil {
							break
						}
						if rep, err := dnsq.ParseReply(buf[:n], nil); err == nil && rep.ID == id {
							got = rep.Addrs
							break
						}
					}
					if len(got) == len(p.Elems) {
						break
					}
					if time.Now().After(deadline) {
						return fmt.Errorf("netlab: %s serves %d of the %d elements of %s after %v", r.Name, len(got), len(p.Elems), p.Name, limit)
					}
					<-tick.C
				}
			}
			return nil
		}()
		if err != nil {
			return err
		}
	}
	return nil
}
