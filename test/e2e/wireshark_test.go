package e2e

import (
	binenc "encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/poolnsd/poolnsd/enrp/wire"
	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/internal/proctest"
	"github.com/poolnsd/poolnsd/store"
)

// capture is a dumpcap process capturing on the loopback interface.
type capture struct {
	t      *testing.T
	p      *proctest.Proc
	file   string
	marker *net.UDPConn // sends the markers that show what the file holds
	seq    int
}

// startCapture starts dumpcap on lo with a capture filter (and the marker
// datagrams) and waits until the file shows that it captures.
func startCapture(t *testing.T, filter string) *capture {
	t.Helper()
	mc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mc.Close() })
	filter = fmt.Sprintf("(%s) or (udp src port %d)", filter, mc.LocalAddr().(*net.UDPAddr).Port)
	file := filepath.Join(t.TempDir(), "capture.pcapng")
	p, err := proctest.Start(exec.Command("dumpcap", "-q", "-B", "64", "-i", "lo", "-f", filter, "-w", file), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Kill)
	switch _, _, err := p.WaitLine(0, waitLimit, func(l string) bool { return strings.Contains(l, "Capturing on") }); err {
	case proctest.ErrExited:
		t.Fatalf("dumpcap did not start capturing (it needs root or CAP_NET_RAW): %s", p.Log())
	case proctest.ErrTimeout:
		t.Fatal("dumpcap did not start capturing")
	}
	c := &capture{t: t, p: p, file: file, marker: mc}
	c.sync()
	return c
}

// sync sends marker datagrams until one is in the capture file: then
// everything sent before it is there too (dumpcap says it captures before
// it does, and writes what it captured with some delay).
func (c *capture) sync() {
	c.t.Helper()
	c.seq++
	text := fmt.Sprintf("poolnsd-marker-%d", c.seq)
	dst := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 9}
	deadline := time.NewTimer(waitLimit)
	defer deadline.Stop()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		c.marker.WriteTo([]byte(text), dst)
		out, _ := exec.Command("tshark", "-r", c.file, "-T", "fields", "-e", "data.text", "-o", "data.show_as_text:TRUE").Output()
		if strings.Contains(string(out), text) {
			return
		}
		select {
		case <-tick.C:
		case <-deadline.C:
			c.t.Fatalf("the capture file does not show marker %q", text)
		}
	}
}

// stop ends the capture, after what was sent is in the file, and returns
// the file.
func (c *capture) stop() string {
	c.t.Helper()
	c.sync()
	c.p.Cmd.Process.Signal(syscall.SIGINT)
	if _, err := c.p.WaitExit(waitLimit); err != nil {
		c.t.Fatal("dumpcap did not stop")
	}
	return c.file
}

// tshark runs tshark and returns its standard output.
func tshark(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command("tshark", args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tshark %q: %v\n%s", args, err, stderr.String())
	}
	return string(out)
}

// streamMessages reassembles each direction of each TCP stream of a
// capture and splits it into ENRP messages by their length field. Streams
// from a local port in skip are left out.
func streamMessages(t *testing.T, file string, skip map[int]bool) [][]byte {
	t.Helper()
	out := tshark(t, "-r", file, "-Y", "tcp.len > 0", "-T", "fields", "-E", "separator=/t",
		"-e", "tcp.stream", "-e", "tcp.srcport", "-e", "tcp.seq", "-e", "tcp.payload")
	type seg struct {
		seq  int
		data []byte
	}
	dirs := map[string][]seg{}
	var order []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Split(line, "\t")
		if len(f) != 4 {
			continue
		}
		port, _ := strconv.Atoi(f[1])
		if skip[port] {
			continue
		}
		seq, _ := strconv.Atoi(f[2])
		data, err := hex.DecodeString(strings.ReplaceAll(f[3], ":", ""))
		if err != nil {
			t.Fatalf("tshark payload %q: %v", f[3], err)
		}
		k := f[0] + "/" + f[1]
		if _, ok := dirs[k]; !ok {
			order = append(order, k)
		}
		dirs[k] = append(dirs[k], seg{seq, data})
	}
	var msgs [][]byte
	for _, k := range order {
		segs := dirs[k]
		sort.SliceStable(segs, func(i, j int) bool { return segs[i].seq < segs[j].seq })
		var stream []byte
		next, hole := -1, false
		for _, s := range segs {
			switch {
			case next >= 0 && s.seq+len(s.data) <= next: // a retransmission
				continue
			case next >= 0 && s.seq < next: // a retransmission that carries more
				s.data = s.data[next-s.seq:]
			case next >= 0 && s.seq > next: // bytes the capture missed
				hole = true
			}
			if hole {
				break
			}
			stream = append(stream, s.data...)
			next = s.seq + len(s.data)
		}
		for len(stream) >= 4 {
			n := int(binenc.BigEndian.Uint16(stream[2:]))
			if n < 4 {
				t.Fatalf("stream %s: a message of length %d", k, n)
			}
			if n > len(stream) {
				break
			}
			msgs = append(msgs, stream[:n])
			stream = stream[n:]
		}
		// A stream may end inside a message: the capture missed packets
		// (dumpcap drops some on a loaded machine), or a peer was killed
		// while it sent. Every complete message before that is checked.
		if len(stream) != 0 || hole {
			t.Logf("stream %s: %d bytes of an incomplete message at its end (hole in the capture: %v)", k, len(stream), hole)
		}
	}
	return msgs
}

// padElements is how many zone-file elements TestWireshark's pool pad
// has: C must be home of some for the hand-back; with the 7 of the other
// pools, (2/3)^7 = 6 % of random registrar IDs gave it none, with 12 more
// (2/3)^19 = 0.05 %. (3000, enough for hand-offs and pushes of more than
// one page, made the start and sync of three registrars under -race on a
// machine loaded 12 times over take longer than 30 s: the codec's corpus,
// TestWiresharkCodec, has those pages.)
const padElements = 12

// TestWireshark captures real peering (insecure, loopback) with dumpcap:
// three poolnsd syncing, answering a hand-made client's bad messages with
// ERROR, asking a peer for an administrative change (drain and undrain of
// its element), passing a failure report on to its element's home,
// refusing one for an element homed elsewhere (an ERROR naming it),
// sending updates after a zone reload, and taking over a killed peer; and
// the parameters of confirmation, hand-off and push: C joins A and B late
// (a hand-back of its share), a backend refuses its element's home (a
// confirmation request, answers, and updates of a disputed element), C
// comes back after its death (A and B push it their own elements, the
// zone-file ones trimmed to their state), A hands off to B and C at its
// SIGTERM (last pages, the failure reports it counted, acknowledgements).
// Every message poolnsd sent, as one UDP datagram each to the ENRP port
// in a capture file written for the purpose (checkDissected), must decode
// in Wireshark's ENRP dissector as the message it is, header, parameters,
// elements and policies, with no malformed packet and no expert warning
// or error; all ten RFC 5353 message types must be among them.
// TestWiresharkCodec covers what the codec can encode beyond this.
func TestWireshark(t *testing.T) {
	proctest.LookTool(t, "tshark", "tshark")
	proctest.LookTool(t, "dumpcap", "tshark")
	// A zone-file element probed over HTTP, whose backend can refuse one
	// registrar's probes: a disputed confirmation.
	vb := newVBackend(t, "127.0.1.9")
	zone := peeringZone + fmt.Sprintf("\n$POOL vp policy=rr answers=3 probe=http:/healthz interval=500ms timeout=400ms rise=2 fall=2\nvp PE %s name=v1\n", vb.addr)
	zone += "\n$POOL pad policy=rr answers=3\n"
	for i := 0; i < padElements; i++ {
		zone += fmt.Sprintf("pad PE 10.0.9.%d:80\n", i+1)
	}
	ps := peeringCluster(t, zone)
	for _, p := range ps {
		p.insecure = true // plain TCP: what a capture can read
	}
	writePeerConfigs(t, ps)
	a, b, c := ps[0], ps[1], ps[2]
	// C holds a registration, so that its death makes a takeover.
	st, err := store.Open(filepath.Join(c.dir, "data"))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.PutElement("reg.pool.example.", &handlespace.Element{ID: 7, Label: handlespace.LabelOf("pe7"),
		Addrs: handlespace.AddrsOf(netip.MustParseAddr("192.0.2.7"), netip.MustParseAddr("2001:db8::7")),
		Port:  443, Expires: handlespace.ExpiryOf(time.Now().Add(time.Hour)), Home: c.id}); err != nil {
		t.Fatal(err)
	}
	st.Close()

	// A and B first; C joins them once they have synced, and they hand it
	// back the state of its share of the zone-file elements. The capture
	// starts before A (and again, on the new ports, when startPeersWith
	// starts the peers again).
	var tcpCap *capture
	startPeersWith(t, []*peer{a, b}, func(p *peer) *daemonProc {
		if p == a {
			var ports []string
			for _, p := range ps {
				_, port, _ := net.SplitHostPort(p.enrp)
				ports = append(ports, "tcp port "+port)
			}
			tcpCap = startCapture(t, strings.Join(ports, " or "))
		}
		return startDaemon(t, p.dir, "--http.token="+adminToken, "--probe.source="+p.ip)
	})
	for _, p := range []*peer{a, b} {
		p.p.waitLog(0, p.name+" synced", msgIs("synced with a peer"))
	}
	c.p = startDaemon(t, c.dir, "--http.token="+adminToken, "--probe.source="+c.ip)
	c.p.ready()
	// (Which of A and B hands back depends on the registrars' IDs.)
	firstToLog(t, "a hand-back to C", eventIs("handback", "peer", handlespace.IDString(c.id), "detail", "given"),
		[]*daemonProc{a.p, b.p}, []int{0, 0})
	// v1's backend refuses its home's probes: its vantage points are
	// asked, reach it, and it is disputed.
	for _, p := range ps {
		waitAnswer(t, p.name, p.dns, "vp.pool.example.", []string{vb.addr.Addr().String()})
	}
	v1 := a.mustElement(t, "vp.pool.example.", "v1")
	var vhome *peer
	for _, p := range ps {
		if handlespace.IDString(p.id) == v1.Home {
			vhome = p
		}
	}
	vb.setRefused(vhome.ip)
	vhome.p.waitLog(0, "v1 disputed", msgIs("health disputed: the vantage points disagree; the element stays in the answers, last where it is out of reach"))
	vb.setRefused()
	waitAnswer(t, "A", a.dns, "reg.pool.example.", []string{"192.0.2.7"})
	waitAnswer(t, "B", b.dns, "reg.pool.example.", []string{"192.0.2.7"})
	// Drain and undrain C's registration at A: A asks C (an administrative
	// request in a HANDLE_UPDATE), C announces the change.
	for _, cmd := range []string{"drain", "undrain"} {
		if out, stderr, code := runPoolnsd(t, a.dir, cmd, "--server", "http://"+a.http, "--token", adminToken, "reg.pool.example.", "pe7"); code != exitOK {
			t.Fatalf("poolnsd %s at A: exit %d, %s %s", cmd, code, out, stderr)
		}
	}
	// A failure report at A of C's registration: A passes it on to C.
	cc := c.p.cursor()
	if st, body := reportAt(t, a, "reg.pool.example.", "pe7"); st != http.StatusAccepted || body["forwarded_to"] != handlespace.IDString(c.id) {
		t.Fatalf("report at A: %d %v, want 202 forwarded to C", st, body)
	}
	c.p.waitLog(cc, "C counting A's report", msgIs("ENRP failure report from a peer counted"))

	// A hand-made client: an unknown message type, then a malformed one.
	raw, err := net.Dial("tcp", a.enrp)
	if err != nil {
		t.Fatal(err)
	}
	rawPort := raw.LocalAddr().(*net.TCPAddr).Port
	cur := a.p.cursor()
	// A failure report passed on to A, which is not the element's home:
	// A refuses it with an ERROR that names it (ParamXRefused).
	pe := wire.ToPE(&handlespace.Element{ID: 7, Label: handlespace.LabelOf("pe7"), Addrs: handlespace.AddrsOf(netip.MustParseAddr("192.0.2.7")), Port: 443,
		Expires: handlespace.ExpiryOf(time.Now().Add(time.Hour)), Home: c.id}, "rr", 1, time.Now())
	pe.X.ReportReq, pe.X.Reporter = true, netip.MustParseAddr("192.0.2.200")
	report, err := (&wire.Message{Type: wire.TypeHandleUpdate, Sender: 0xe, Receiver: a.id, Action: wire.AddPE,
		Entries: []wire.Entry{{Handle: []byte("reg.pool.example."), Elements: []wire.PE{pe}}}}).Encode()
	if err != nil {
		t.Fatal(err)
	}
	raw.Write(report)
	a.p.waitLog(cur, "A refusing the report", eventIs("report-refused"))
	raw.Write([]byte{0x7f, 0, 0, 12, 0, 0, 0, 0xe, 0, 0, 0, 0})
	raw.Write([]byte{1, 0, 0, 12, 0, 0, 0, 0xe, 0, 0, 0, 0})
	a.p.waitLog(cur, "the malformed message", func(r logRec) bool {
		return r.Str("msg") == "malformed ENRP message; closing the connection"
	})
	// Read what A sends (its hello and the two ERRORs) until it closes.
	raw.SetReadDeadline(time.Now().Add(waitLimit))
	if _, err := io.Copy(io.Discard, raw); err != nil {
		t.Fatalf("reading A's answers to the bad messages: %v", err)
	}
	raw.Close()

	// A zone reload everywhere: one zone-file element gone, one changed:
	// their homes send HANDLE_UPDATE (DEL_PE, ADD_PE).
	reloaded := strings.Replace(strings.Replace(zone, "web    PE 10.0.0.6:8080\n", "", 1),
		"web    PE 10.0.0.5:8080", "web    PE 10.0.0.5:8080 weight=7", 1)
	for _, p := range ps {
		writeFile(t, p.dir, "zones/pool.example.zone", reloaded)
		p.p.hup("the reload", msgIs("zones reloaded"))
	}
	// Kill C: A and B take its registration over.
	ca, cb := a.p.cursor(), b.p.cursor()
	c.p.cmd.Process.Signal(syscall.SIGKILL)
	c.p.waitExit(waitLimit)
	firstToLog(t, "takeover of C", eventIs("takeover-done"), []*daemonProc{a.p, b.p}, []int{ca, cb})
	// Both know: the loser got TAKEOVER_SERVER.
	a.p.waitLog(ca, "A knowing of the takeover", func(r logRec) bool { return r.Str("event") == "takeover-done" || r.Str("event") == "taken-over" })
	b.p.waitLog(cb, "B knowing of the takeover", func(r logRec) bool { return r.Str("event") == "takeover-done" || r.Str("event") == "taken-over" })
	// C back: A and B, which found it dead, push it their own elements
	// (the zone-file ones as their state alone) on meeting it again.
	ca, cb = a.p.cursor(), b.p.cursor()
	c.p = startDaemon(t, c.dir, "--http.token="+adminToken, "--probe.source="+c.ip)
	c.p.ready()
	cid := handlespace.IDString(c.id)
	a.p.waitLog(ca, "A pushing to C", eventIs("pushed", "peer", cid))
	b.p.waitLog(cb, "B pushing to C", eventIs("pushed", "peer", cid))
	// A failure report at A of an element homed at A: A counts it, and
	// its hand-off page carries the count to the element's next home.
	var padHere string
	for _, e := range poolElements(t, "http://"+a.http, "pad.pool.example.") {
		if e.Home == handlespace.IDString(a.id) {
			padHere = e.Label
			break
		}
	}
	if padHere == "" {
		t.Fatal("A is home of no element of pad")
	}
	if st, body := reportAt(t, a, "pad.pool.example.", padHere); st/100 != 2 || body["forwarded_to"] != nil {
		t.Fatalf("report at A of its own %s: %d %v, want it counted there", padHere, st, body)
	}
	// A leaves (a hand-off to B and C), then B and C.
	for _, p := range []*peer{a, b, c} {
		p.p.cmd.Process.Signal(syscall.SIGTERM)
		p.p.waitExit(waitLimit)
	}
	tcpFile := tcpCap.stop()
	if keep := os.Getenv("POOLNSD_KEEP_CAPTURE"); keep != "" {
		if b, err := os.ReadFile(tcpFile); err == nil {
			os.WriteFile(keep, b, 0o644)
		}
	}

	msgs := streamMessages(t, tcpFile, map[int]bool{rawPort: true})
	types := map[wire.Type]int{}
	adminReqs, reportReqs := 0, 0
	refusals := map[uint16]int{} // by the request refused
	vantage := map[string]int{}
	for _, m := range msgs {
		dm, err := wire.Decode(m)
		if err != nil {
			t.Fatalf("poolnsd sent a message its own decoder refuses: %v (%x)", err, m)
		}
		types[dm.Type]++
		if h := dm.Handoff; h != nil {
			vantage[map[uint8]string{wire.HandoffPage: "hand-off page", wire.HandoffLast: "last hand-off page",
				wire.HandoffAck: "hand-off acknowledgement", wire.HandbackPage: "hand-back page",
				wire.SyncPage: "push page", wire.SyncLast: "last push page"}[h.Kind]]++
		}
		for _, en := range dm.Entries {
			for _, pe := range en.Elements {
				switch x := pe.X; {
				case x == nil:
				case x.ConfirmReq != nil:
					vantage["confirmation request"]++
				case x.ConfirmAns != nil:
					vantage["confirmation answer"]++
				case len(x.Vantage) > 0:
					vantage["element with vantage points"]++
				}
				if x := pe.X; x != nil && x.Flags&wire.XTrimmed != 0 {
					vantage["trimmed zone-file element"]++
				}
				if x := pe.X; x != nil && x.Reports > 0 && dm.Handoff != nil {
					vantage["element with its report count"]++
				}
			}
		}
		if dm.Type == wire.TypeHandleUpdate && dm.Entries[0].Elements[0].X != nil && dm.Entries[0].Elements[0].X.AdminReq {
			adminReqs++
		}
		if dm.Type == wire.TypeHandleUpdate && dm.Entries[0].Elements[0].X != nil && dm.Entries[0].Elements[0].X.ReportReq {
			reportReqs++
		}
		if dm.Type == wire.TypeError && dm.Refused != nil {
			refusals[dm.Refused.Request]++
		}
	}
	// One report refused (the hand-made client's) and no administrative
	// request; a confirmation request may be refused besides (a vantage
	// point that does not yet see the asker as the element's home while
	// C comes and goes, or is busy): that is timing, not a fault.
	if reportReqs != 1 || refusals[wire.ParamXReportReq] != 1 || refusals[wire.ParamXAdminReq] != 0 {
		t.Errorf("%d failure reports passed on and refusals %v in the capture, want 1 report and 1 report refusal (%#x), no administrative refusal",
			reportReqs, refusals, wire.ParamXReportReq)
	}
	for req := range refusals {
		if req != wire.ParamXReportReq && req != wire.ParamXAdminReq && req != wire.ParamXConfirmReq {
			t.Errorf("a refusal of request %#x in the capture, which nothing asked for", req)
		}
	}
	t.Logf("refusals in the capture, by request: %v", refusals)
	if adminReqs != 2 {
		t.Errorf("%d administrative requests in the capture, want 2 (drain and undrain)", adminReqs)
	}
	for _, what := range []string{"confirmation request", "confirmation answer", "element with vantage points",
		"last hand-off page", "hand-off acknowledgement", "hand-back page", "element with its report count",
		"last push page", "trimmed zone-file element"} { // few elements: hand-offs and pushes are one, last, page

		if vantage[what] == 0 {
			t.Errorf("no %s in the capture; have %v", what, vantage)
		}
	}
	t.Logf("messages with the confirmation and hand-off parameters: %v", vantage)
	for typ := wire.TypePresence; typ <= wire.TypeError; typ++ {
		if types[typ] == 0 {
			t.Errorf("no %v in the capture; have %v", typ, types)
		}
	}

	// Each message as one UDP datagram to the ENRP port, in a capture file
	// made for Wireshark's dissector.
	counts := checkDissected(t, msgs, nil)
	t.Logf("%d messages poolnsd sent, as Wireshark's ENRP dissector names them (no malformed packets, no expert warnings):\n%s",
		len(msgs), infoSummary(counts))
}
