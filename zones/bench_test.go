package zones

import (
	"fmt"
	"strings"
	"testing"
	"testing/fstest"
)

// bigZone returns a zone with n static A records and n elements in n/100
// pools.
func bigZone(n int) []byte {
	var b strings.Builder
	b.WriteString(head)
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "host%d A 10.%d.%d.%d\n", i, i>>16&255, i>>8&255, i&255)
	}
	for i := 0; i < n; i++ {
		if i%100 == 0 {
			fmt.Fprintf(&b, "$POOL p%d policy=wrr service=_http._tcp\n", i/100)
		}
		fmt.Fprintf(&b, "  PE 10.%d.%d.%d:8080 weight=%d site=fra\n", i>>16&255, i>>8&255, i&255, i%7)
	}
	return []byte(b.String())
}

// BenchmarkParse measures a zone of 10,000 static records and 10,000
// elements; ns/op divided by 20,000 is the cost of one line.
func BenchmarkParse(b *testing.B) {
	fsys := fstest.MapFS{"z.zone": {Data: bigZone(10000)}}
	b.SetBytes(int64(len(fsys["z.zone"].Data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(fsys, "z.zone"); err != nil {
			b.Fatal(err)
		}
	}
}
