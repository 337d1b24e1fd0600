package enrpnet_test

import (
	"runtime"
	"testing"
	"time"

	"github.com/poolnsd/poolnsd/enrp/enrptest"
)

// TestPeerRTTs: two registrars peering over TLS know their RTT to each
// other from their connections as soon as they are up (loopback: under a
// second, above zero), and forget it when the peer's connections are
// down.
func TestPeerRTTs(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("TCP_INFO is Linux's")
	}
	ca, err := enrptest.NewCA("test CA")
	if err != nil {
		t.Fatal(err)
	}
	a := startRegistrar(t, 0xa, tlsFor(t, ca, "a"))
	b := startRegistrar(t, 0xb, tlsFor(t, ca, "b"), a.drv.Addr().String())
	a.log.waitLog(t, "ENRP peer-up", "peer=0000000b")
	b.log.waitLog(t, "ENRP peer-up", "peer=0000000a")
	for _, c := range []struct {
		r          *registrar
		self, peer uint32
	}{{a, 0xa, 0xb}, {b, 0xb, 0xa}} {
		rtts := c.r.drv.PeerRTTs()
		r, ok := rtts[c.peer]
		if !ok || r.RTT <= 0 || r.RTT > time.Second || len(rtts) != 1 {
			t.Errorf("registrar %08x: RTTs %v, want one to %08x, above 0 and under 1 s", c.self, rtts, c.peer)
		}
	}
	b.drv.Close()
	a.log.waitLog(t, "ENRP connection down")
	if rtts := a.drv.PeerRTTs(); len(rtts) != 0 {
		t.Errorf("RTTs %v after the peer left, want none", rtts)
	}
}
