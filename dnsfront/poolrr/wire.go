package poolrr

import (
	"encoding/binary"
	"strconv"
	"strings"

	"github.com/miekg/dns"
	"github.com/poolnsd/poolnsd/handlespace"
)

// QnamePtr is the owner of every packed record: a compression pointer to
// the question's name, which every reply holds at offset 12, after the
// header. The answer so carries the client's letter case (RFC 4343).
const QnamePtr = 0xC000 | 12

// fixedLen is the size of a record's fixed part: type, class, TTL,
// RDLENGTH.
const fixedLen = 10

// Key is what an element's packed records depend on besides the element:
// the pool's name (the targets' suffix), TTL, URI template, ALPN IDs and
// NAPTR services. Packed material is memoised by it.
type Key struct {
	Name  string
	TTL   uint32
	URI   string
	HTTPS string
	NAPTR string
}

// ExpandURI fills a pool's URI template for one element: {name} is the
// element's own DNS name without the final dot, {addr} its first address
// (IPv6 in brackets), {port} its port.
func ExpandURI(tmpl string, e *handlespace.Element, pool string) string {
	name := strings.TrimSuffix(e.Label.String()+"."+pool, ".")
	addr := ""
	if e.Addrs.Len() > 0 {
		addr = e.Addrs.At(0).String()
		if e.Addrs.At(0).Is6() {
			addr = "[" + addr + "]"
		}
	}
	r := strings.NewReplacer("{name}", name, "{addr}", addr, "{port}", strconv.Itoa(int(e.Port)))
	return r.Replace(tmpl)
}

// AppendRR appends a record whose owner is the compression pointer ptr
// (QnamePtr: the question's name) to b.
func AppendRR(b []byte, ptr uint16, typ uint16, ttl uint32, rdata []byte) []byte {
	b = binary.BigEndian.AppendUint16(b, ptr)
	return AppendRRBody(b, typ, ttl, rdata)
}

// AppendRRBody appends a record without its owner: type, class IN, TTL,
// RDLENGTH and RDATA.
func AppendRRBody(b []byte, typ uint16, ttl uint32, rdata []byte) []byte {
	b = binary.BigEndian.AppendUint16(b, typ)
	b = binary.BigEndian.AppendUint16(b, dns.ClassINET)
	b = binary.BigEndian.AppendUint32(b, ttl)
	b = binary.BigEndian.AppendUint16(b, uint16(len(rdata)))
	return append(b, rdata...)
}
