package e2e

import (
	binenc "encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/poolnsd/poolnsd/enrp/wire"
)

// writeENRPPcap writes a capture file (classic pcap, raw IPv4) that holds
// each message as one UDP datagram from 127.0.0.1 to 127.0.0.1 port
// wire.Port, where Wireshark dissects ENRP by default. Nothing goes on a
// network: tests that run at once cannot collide on the port, and no
// packet can be lost on the way to the dissector.
func writeENRPPcap(t *testing.T, msgs [][]byte) string {
	t.Helper()
	var b []byte
	u32 := func(v uint32) { b = binenc.LittleEndian.AppendUint32(b, v) }
	u16 := func(v uint16) { b = binenc.LittleEndian.AppendUint16(b, v) }
	// The global header: magic, version 2.4, zone, accuracy, snap length,
	// link type 101 (LINKTYPE_RAW: each packet starts with its IP header).
	u32(0xa1b2c3d4)
	u16(2)
	u16(4)
	u32(0)
	u32(0)
	u32(262144)
	u32(101)
	for i, m := range msgs {
		n := 20 + 8 + len(m)
		if n > 65535 {
			t.Fatalf("message %d of %d bytes does not fit in one IPv4 datagram", i+1, len(m))
		}
		u32(1_700_000_000 + uint32(i)) // seconds
		u32(0)                         // microseconds
		u32(uint32(n))                 // captured length
		u32(uint32(n))                 // original length
		ip := make([]byte, 20, n)
		ip[0] = 0x45 // version 4, header of 5 words
		binenc.BigEndian.PutUint16(ip[2:], uint16(n))
		binenc.BigEndian.PutUint16(ip[4:], uint16(i)) // identification
		ip[8] = 64                                    // TTL
		ip[9] = 17                                    // UDP
		copy(ip[12:], []byte{127, 0, 0, 1})
		copy(ip[16:], []byte{127, 0, 0, 1})
		var sum uint32
		for j := 0; j < 20; j += 2 {
			sum += uint32(binenc.BigEndian.Uint16(ip[j:]))
		}
		for sum > 0xffff {
			sum = sum&0xffff + sum>>16
		}
		binenc.BigEndian.PutUint16(ip[10:], ^uint16(sum))
		ip = binenc.BigEndian.AppendUint16(ip, 40000) // source port
		ip = binenc.BigEndian.AppendUint16(ip, wire.Port)
		ip = binenc.BigEndian.AppendUint16(ip, uint16(8+len(m)))
		ip = binenc.BigEndian.AppendUint16(ip, 0) // no checksum (IPv4 allows it)
		ip = append(ip, m...)
		b = append(b, ip...)
	}
	file := filepath.Join(t.TempDir(), "enrp.pcap")
	if err := os.WriteFile(file, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return file
}

// paramTypes returns the types of the parameters of an encoded message
// that Wireshark's ENRP dissector can name, in the order they come: every
// parameter of the message and, within the RFC 5354 parameters that hold
// parameters (pool element, server information, transports), theirs.
// poolnsd's extension parameters (top bits 10) are listed, and entered
// only with enterX: a dissector that does not know them skips them whole.
// It reads the bytes itself, so that it does not share a mistake with the
// codec.
func paramTypes(t *testing.T, m []byte, enterX bool) []uint16 {
	t.Helper()
	fixed := wire.HeaderLen + wire.IDsLen
	switch wire.Type(m[0]) {
	case wire.TypeInitTakeover, wire.TypeInitTakeoverAck, wire.TypeTakeoverServer, wire.TypeHandleUpdate:
		fixed += 4
	}
	var out []uint16
	var walk func(b []byte)
	walk = func(b []byte) {
		for len(b) >= wire.ParamHeaderLen {
			typ, n := binenc.BigEndian.Uint16(b), int(binenc.BigEndian.Uint16(b[2:]))
			if n < wire.ParamHeaderLen || n > len(b) {
				t.Fatalf("message %x: parameter 0x%04x of length %d in %d bytes", m, typ, n, len(b))
			}
			out = append(out, typ)
			v := b[wire.ParamHeaderLen:n]
			// Within a container, its fixed fields come first.
			fixed := map[uint16]int{wire.ParamPoolElement: 12, // identifier, home, registration life
				wire.ParamServerInfo: 4,                                                            // server ID
				wire.ParamTCP:        4, wire.ParamUDP: 4, wire.ParamSCTP: 4, wire.ParamUDPLite: 4, // port, use or reserved
				wire.ParamDCCP: 8, // port, reserved, service code
			}
			if enterX {
				fixed[wire.ParamXElement] = 0
			}
			if f, ok := fixed[typ]; ok {
				if len(v) < f {
					t.Fatalf("message %x: parameter 0x%04x of %d bytes, shorter than its fixed fields", m, typ, n)
				}
				walk(v[f:])
			}
			b = b[min(wire.Pad4(n), len(b)):]
		}
	}
	walk(m[fixed:])
	return out
}

// dissected is what Wireshark's ENRP dissector made of one datagram.
type dissected struct {
	types  string // enrp.message_type, comma-separated
	params string // enrp.parameter_type, comma-separated
	info   string // the Info column
	// The message's flags, its sender's and receiver's IDs, and its pool
	// elements' identifiers and policy types, comma-separated.
	flags, sender, receiver, ids, policies string
}

// checkDissected has tshark's ENRP dissector decode each message (one UDP
// datagram each, see writeENRPPcap) and checks that it finds the message
// type that was sent and, in order, every parameter it can name
// (paramTypes), with no malformed packet and no expert warning or error.
// names[i], if given, says what message i is, for the failure messages.
// It returns how many datagrams each Info column text names.
func checkDissected(t *testing.T, msgs [][]byte, names []string) map[string]int {
	t.Helper()
	file := writeENRPPcap(t, msgs)
	out := tshark(t, "-r", file, "-T", "fields", "-E", "separator=/t", "-E", "occurrence=a", "-E", "aggregator=,",
		"-e", "frame.number", "-e", "enrp.message_type", "-e", "enrp.parameter_type", "-e", "_ws.col.Info",
		"-e", "enrp.message_flags", "-e", "enrp.sender_servers_id", "-e", "enrp.receiver_servers_id",
		"-e", "enrp.pool_element_pe_identifier", "-e", "enrp.pool_member_selection_policy_type")
	got := map[int]dissected{}
	for _, line := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		f := strings.Split(line, "\t")
		if len(f) != 9 {
			t.Fatalf("tshark printed %q", line)
		}
		n, _ := strconv.Atoi(f[0])
		got[n] = dissected{types: f[1], params: f[2], info: f[3], flags: f[4], sender: f[5], receiver: f[6], ids: f[7], policies: f[8]}
	}
	name := func(i int) string {
		if i < len(names) {
			return fmt.Sprintf("datagram %d (%s)", i+1, names[i])
		}
		return fmt.Sprintf("datagram %d", i+1)
	}
	counts := map[string]int{}
	for i, m := range msgs {
		d, ok := got[i+1]
		if !ok {
			t.Fatalf("tshark shows %d frames, not %d", len(got), len(msgs))
		}
		// An ERROR about an unrecognized message holds that message: its
		// type is the second value.
		if first, _, _ := strings.Cut(d.types, ","); first != strconv.Itoa(int(m[0])) {
			t.Errorf("%s: Wireshark's message type %q, sent %d", name(i), d.types, m[0])
		}
		dm, err := wire.Decode(m)
		if err != nil {
			t.Fatalf("%s: %v", name(i), err)
		}
		nums := func(what, list string) []uint64 {
			var out []uint64
			if list == "" {
				return nil
			}
			for _, f := range strings.Split(list, ",") {
				v, err := strconv.ParseUint(f, 0, 64)
				if err != nil {
					t.Fatalf("%s: tshark's %s %q", name(i), what, f)
				}
				out = append(out, v)
			}
			return out
		}
		// The header, as the first values (an ERROR may hold a message).
		head := []uint64{uint64(dm.Flags), uint64(dm.Sender), uint64(dm.Receiver)}
		var seen []uint64
		for _, l := range [][]uint64{nums("flags", d.flags), nums("sender", d.sender), nums("receiver", d.receiver)} {
			if len(l) == 0 {
				seen = append(seen, 1<<40) // none: cannot equal
				continue
			}
			seen = append(seen, l[0])
		}
		if !slices.Equal(seen, head) {
			t.Errorf("%s: Wireshark read flags, sender and receiver %#x, sent %#x", name(i), seen, head)
		}
		if dm.Type != wire.TypeError {
			var ids, pols []uint64
			for _, en := range dm.Entries {
				for _, pe := range en.Elements {
					ids, pols = append(ids, uint64(pe.ID)), append(pols, uint64(pe.Policy.Type))
				}
			}
			if h := nums("identifiers", d.ids); !slices.Equal(h, ids) {
				t.Errorf("%s: Wireshark read element identifiers %#x, sent %#x", name(i), h, ids)
			}
			if h := nums("policy types", d.policies); !slices.Equal(h, pols) {
				t.Errorf("%s: Wireshark read policy types %#x, sent %#x", name(i), h, pols)
			}
		}
		want := paramTypes(t, m, false)
		var have []uint16
		for _, v := range nums("parameter types", d.params) {
			have = append(have, uint16(v))
		}
		// Wireshark lists the parameters inside an ERROR's causes too
		// (the diagnostic, an unrecognized parameter, a message's):
		// there, the message's own must be among them in order.
		if ok := slices.Equal(have, want); !ok && !(wire.Type(m[0]) == wire.TypeError && isSubsequence(want, have)) {
			t.Errorf("%s: Wireshark found parameters %#04x, sent %#04x", name(i), have, want)
		}
		counts[d.info]++
	}
	bad := tshark(t, "-r", file, "-Y", `_ws.malformed || _ws.expert.severity >= "Warning"`, "-T", "fields", "-e", "frame.number")
	if frames := strings.Fields(bad); len(frames) > 0 {
		var which []string
		for _, f := range frames {
			n, _ := strconv.Atoi(f)
			which = append(which, name(n-1))
		}
		detail := tshark(t, "-r", file, "-Y", `_ws.malformed || _ws.expert.severity >= "Warning"`, "-V")
		t.Errorf("Wireshark flags %s:\n%s", strings.Join(which, ", "), detail)
	}
	return counts
}

// infoSummary prints counts (checkDissected's) one line each, the most
// frequent last.
func infoSummary(counts map[string]int) string {
	var lines []string
	for k, v := range counts {
		lines = append(lines, fmt.Sprintf("%5d  %s", v, k))
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

// isSubsequence reports whether sub is s with some elements left out.
func isSubsequence(sub, s []uint16) bool {
	for _, v := range s {
		if len(sub) > 0 && sub[0] == v {
			sub = sub[1:]
		}
	}
	return len(sub) == 0
}
