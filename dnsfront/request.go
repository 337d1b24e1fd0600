package dnsfront

import (
	"encoding/binary"
	"net"
	"net/netip"

	"github.com/miekg/dns"
	"github.com/poolnsd/poolnsd/dnsfront/protect"
	"github.com/poolnsd/poolnsd/handlespace"
)

// request is what the handler uses of a query. It is read either from a
// dns.Msg (miekg/dns's TCP server, and the UDP loop's slow path) or straight
// from the packet's bytes (the UDP loop's fast path, which allocates
// nothing), and the renderers write replies from it alone.
type request struct {
	r       *dns.Msg // the query as unpacked; nil when read from its bytes
	rawQ    []byte   // the question's bytes, when read from them (uncompressed)
	id      uint16
	rd, cd  bool // RD and CD, copied into replies
	q       dns.Question
	qname   string // lower case
	tcp     bool
	client  netip.AddrPort // the query's source
	edns    edns
	maxSize int       // largest reply we may send
	noGlue  bool      // SRV and HTTPS/SVCB answers without their additional records (the signer writes them)
	logq    bool      // the query log was on when the query came
	tsig    *dns.TSIG // the query's verified TSIG: the reply is signed

	protect.Query // what the protections decided (package protect)
}

// edns is what the handler uses of a query's OPT record.
type edns struct {
	on      bool // the query has an OPT record
	udpSize uint16
	version uint8
	do      bool
	ecs     ecsOption
}

// ecsOption is a query's EDNS Client Subnet option (RFC 7871).
type ecsOption struct {
	on     bool
	family uint16 // 1 IPv4, 2 IPv6 (0 with a source prefix length of 0)
	source uint8  // source prefix length
	scope  uint8
	n      uint8    // address bytes sent: ceil(source/8), at most the family's length
	addr   [16]byte // the address bytes sent
}

// newRequest reads the request of a query that miekg/dns unpacked, from
// w's source, and a question it has; qo, when not nil, gets the options the
// protections read.
func newRequest(w dns.ResponseWriter, r *dns.Msg, logq bool, qo *protect.QueryOpts) request {
	req := request{r: r, id: r.Id, rd: r.RecursionDesired, cd: r.CheckingDisabled, q: r.Question[0], logq: logq}
	switch a := w.RemoteAddr().(type) {
	case *net.UDPAddr:
		req.client = unmapped(a.AddrPort())
	case *net.TCPAddr:
		req.client, req.tcp = unmapped(a.AddrPort()), true
	}
	if opt := r.IsEdns0(); opt != nil {
		req.edns = edns{on: true, udpSize: opt.UDPSize(), version: opt.Version(), do: opt.Do()}
		for _, o := range opt.Option {
			if s, ok := o.(*dns.EDNS0_SUBNET); ok {
				req.edns.ecs = ecsFrom(s)
				break
			}
		}
		if qo != nil {
			protect.MsgQueryOpts(opt, qo)
		}
	}
	return req
}

// unmapped is ap with an IPv4-mapped IPv6 address as the IPv4 address.
func unmapped(ap netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// qnameLen is the length of the question's name on the wire.
func (req *request) qnameLen() int {
	switch {
	case req.rawQ != nil:
		return len(req.rawQ) - 4
	case req.q.Name == ".":
		return 1
	}
	return len(req.q.Name) + 1 // no escapes: each dot is a length byte, and the root's
}

// ecsFrom copies miekg/dns's form of an ECS option.
func ecsFrom(s *dns.EDNS0_SUBNET) ecsOption {
	e := ecsOption{on: true, family: s.Family, source: s.SourceNetmask, scope: s.SourceScope}
	addr := s.Address.To4()
	if s.Family == 2 || addr == nil {
		addr = s.Address.To16()
	}
	e.n = uint8(min((int(e.source)+7)/8, len(addr)))
	copy(e.addr[:], addr[:e.n])
	return e
}

// ecsRead reads an ECS option's value (family, source, scope, address),
// which checkMsg found well formed.
func ecsRead(v []byte) ecsOption {
	e := ecsOption{on: true, family: binary.BigEndian.Uint16(v), source: v[2], scope: v[3]}
	e.n = uint8(min(len(v)-4, 16))
	copy(e.addr[:], v[4:4+int(e.n)])
	return e
}

// subnet is the client subnet the option names, if it names one.
func (e *ecsOption) subnet() (netip.Prefix, bool) {
	if !e.on {
		return netip.Prefix{}, false
	}
	var a netip.Addr
	bits := int(e.source)
	switch e.family {
	case 1:
		a = netip.AddrFrom4([4]byte(e.addr[:4]))
	case 2:
		a = netip.AddrFrom16(e.addr)
		if a.Is4In6() && bits >= 96 {
			// An IPv4-mapped IPv6 subnet is the IPv4 subnet.
			a, bits = a.Unmap(), bits-96
		}
	default:
		a = netip.AddrFrom4([4]byte{})
	}
	p, err := a.Prefix(bits)
	return p, err == nil
}

// maxReply sets req.maxSize for its transport and EDNS size, with
// udpSize the largest UDP reply this server sends.
func (req *request) setMaxSize(udpSize int) {
	switch {
	case req.tcp:
		req.maxSize = dns.MaxMsgSize
	case req.edns.on:
		req.maxSize = min(max(int(req.edns.udpSize), dns.MinMsgSize), udpSize)
	default:
		req.maxSize = dns.MinMsgSize
	}
}

// clientOf fills c with what the policies may use of the query's source.
func clientOf(c *handlespace.Client, req *request) {
	*c = handlespace.Client{Addr: req.client.Addr().Unmap()}
	if p, ok := req.edns.ecs.subnet(); ok {
		c.Subnet = p
	}
}

// replyMsg returns an empty reply to req: ID, QR, opcode QUERY, RD and CD
// copied, the question as the client wrote it.
func replyMsg(req *request) *dns.Msg {
	m := new(dns.Msg)
	m.Id, m.Response, m.Opcode = req.id, true, dns.OpcodeQuery
	m.RecursionDesired, m.CheckingDisabled = req.rd, req.cd
	m.Question = []dns.Question{req.q}
	return m
}

// setOPT adds the reply's OPT record to m: our largest UDP size, DO copied
// (RFC 3225), the query's ECS option echoed with scope (RFC 7871; scope < 0:
// the answer does not depend on the subnet, 0).
func setOPT(m *dns.Msg, req *request, udpSize int, scope int) {
	m.SetEdns0(uint16(udpSize), req.edns.do)
	if e := &req.edns.ecs; e.on {
		addr := make(net.IP, e.n)
		copy(addr, e.addr[:e.n])
		if e.family == 2 {
			addr = append(addr, make(net.IP, 16-len(addr))...)
		} else {
			addr = append(addr, make(net.IP, 4-min(len(addr), 4))...)
		}
		opt := m.IsEdns0()
		opt.Option = append(opt.Option, &dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: e.family,
			SourceNetmask: e.source, SourceScope: uint8(min(max(scope, 0), int(e.source))), Address: addr})
	}
	req.AddOptions(m, req.client.Addr())
}
