package main

import (
	"encoding/base64"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/miekg/dns"
	"github.com/poolnsd/poolnsd/enrp/enrptest"
	"github.com/poolnsd/poolnsd/internal/proctest"
)

var tsigSecret = base64.StdEncoding.EncodeToString([]byte("bench-enrp-secret-32-bytes-long!"))

const processZone = `$ORIGIN pool.bench.
$TTL 300
@   SOA ns hostmaster 1 3600 600 86400 5
@   NS  ns
ns  A   192.0.2.53
`

// propagationProcesses runs n poolnsd processes and times signed DNS
// UPDATE registrations at the first until the third answers them.
func propagationProcesses(ca *enrptest.CA, dir, bin string, n int) error {
	abs, err := filepath.Abs(bin)
	if err != nil {
		return err
	}
	var procs []*proctest.Proc
	defer func() {
		for _, p := range procs {
			p.Stop(syscall.SIGTERM, 10*time.Second)
		}
	}()
	for i := 0; i < n; i++ {
		ip := fmt.Sprintf("127.0.0.%d", i+1)
		d := filepath.Join(dir, fmt.Sprintf("p%d-%d", n, i))
		if err := os.MkdirAll(filepath.Join(d, "zones"), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(d, "zones", "pool.bench.zone"), []byte(processZone), 0o644); err != nil {
			return err
		}
		f, err := ca.WriteFiles(d, "pr", ip)
		if err != nil {
			return err
		}
		var peers []string
		for j := 0; j < n; j++ {
			if j != i {
				peers = append(peers, fmt.Sprintf("%q", fmt.Sprintf("127.0.0.%d:%d", j+1, *enrpPort)))
			}
		}
		cfg := fmt.Sprintf(`dns:
  listen: ["%s:%d"]
  udp_sockets: 1
http:
  listen: ""
zones: zones
zones_watch: false
data: data
log:
  format: json
  level: info
tsig:
  - name: bench-key.
    algorithm: hmac-sha256
    secret: %q
registration:
  rate: 1000000
  burst: 1000000
enrp:
  listen: "%s:%d"
  peers: [%s]
  tls: {cert: %q, key: %q, ca: %q}
`, ip, *dnsPort, tsigSecret, ip, *enrpPort, strings.Join(peers, ", "), f.Cert, f.Key, f.CA)
		if err := os.WriteFile(filepath.Join(d, "poolnsd.yaml"), []byte(cfg), 0o644); err != nil {
			return err
		}
		cmd := exec.Command(abs, "serve")
		cmd.Dir = d
		p, err := proctest.Start(cmd, nil)
		if err != nil {
			return err
		}
		procs = append(procs, p)
	}
	for _, p := range procs {
		switch _, _, err := p.Wait(0, 15*time.Second, proctest.MsgIs("ready")); err {
		case proctest.ErrExited:
			return fmt.Errorf("a poolnsd exited before it was ready (ports 5420 and 9901 on 127.0.0.1-%d free?)", n)
		case proctest.ErrTimeout:
			return fmt.Errorf("a poolnsd was not ready within 15 s")
		}
	}
	aaddr := fmt.Sprintf("127.0.0.1:%d", *dnsPort)
	caddr := fmt.Sprintf("127.0.0.3:%d", *dnsPort)
	client := &dns.Client{Net: "udp", Timeout: time.Second}
	// The peers find each other: a registration made now reaches C.
	if err := waitPeered(client, aaddr, caddr); err != nil {
		return err
	}
	var fromSend, fromAck []time.Duration
	for i := 0; i < *samples; i++ {
		label := fmt.Sprintf("pe%d", i)
		pool := fmt.Sprintf("p%d.pool.bench.", i)
		ip := netip.AddrFrom4([4]byte{10, 2, byte(i >> 8), byte(i)})
		t0 := time.Now()
		if err := update(aaddr, label+"."+pool, ip); err != nil {
			return err
		}
		t1 := time.Now()
		if err := untilAnswered(client, caddr, pool, ip, t0, i); err != nil {
			return err
		}
		now := time.Now()
		fromSend = append(fromSend, now.Sub(t0))
		fromAck = append(fromAck, now.Sub(t1))
	}
	fmt.Printf("propagation over processes, %d registrars: %d DNS UPDATE registrations at A, first in C's DNS answers: from the UPDATE sent median %v, p99 %v; from A's acknowledgement median %v, p99 %v\n",
		n, len(fromSend), percentile(fromSend, 0.5).Round(time.Microsecond), percentile(fromSend, 0.99).Round(time.Microsecond),
		percentile(fromAck, 0.5).Round(time.Microsecond), percentile(fromAck, 0.99).Round(time.Microsecond))
	return nil
}

// update registers name with address ip (SRV and A), signed with the key.
func update(addr, name string, ip netip.Addr) error {
	m := new(dns.Msg)
	m.SetUpdate("pool.bench.")
	m.Insert([]dns.RR{
		&dns.SRV{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeSRV, Class: dns.ClassINET, Ttl: 300}, Port: 8080, Weight: 1, Target: name},
		&dns.A{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 300}, A: net.IP(ip.AsSlice())},
	})
	m.SetTsig("bench-key.", dns.HmacSHA256, 300, time.Now().Unix())
	c := &dns.Client{Net: "udp", Timeout: 5 * time.Second, TsigSecret: map[string]string{"bench-key.": tsigSecret}}
	r, _, err := c.Exchange(m, addr)
	if err != nil {
		return fmt.Errorf("update %s: %v", name, err)
	}
	if r.Rcode != dns.RcodeSuccess {
		return fmt.Errorf("update %s: %s", name, dns.RcodeToString[r.Rcode])
	}
	return nil
}

// waitPeered registers a probe element at A until C answers with it.
func waitPeered(c *dns.Client, aaddr, caddr string) error {
	ip := netip.MustParseAddr("10.3.0.1")
	if err := update(aaddr, "warm.warm.pool.bench.", ip); err != nil {
		return err
	}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if ok, _ := answers(c, caddr, "warm.pool.bench.", ip); ok {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("the registrars did not peer within 20 s")
}
