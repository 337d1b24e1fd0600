package enrpnet_test

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/poolnsd/poolnsd/enrp/enrpnet"
	"github.com/poolnsd/poolnsd/handlespace"
)

// gatedStore is a registrar's store as the daemon keeps it for peering
// (OnOwnership, Durable), with a gate: while it is shut nothing is
// written and nothing said durable, as if the disk were slow.
type gatedStore struct {
	mu     sync.Mutex
	owned  map[string]*handlespace.Element // by pool/ID
	handed int                             // writes marked Handed
	reqs   chan func()
	open   chan struct{}
}

func newGatedStore(t *testing.T) *gatedStore {
	s := &gatedStore{owned: map[string]*handlespace.Element{}, reqs: make(chan func(), 1024), open: make(chan struct{})}
	done := make(chan struct{})
	go func() {
		defer close(done)
		select {
		case <-s.open:
		case <-done:
		}
		for f := range s.reqs {
			f()
		}
	}()
	t.Cleanup(func() {
		close(s.reqs)
		select {
		case <-s.open:
		default:
			close(s.open)
		}
		<-done
	})
	return s
}

func (s *gatedStore) edit(c *enrpnet.DriverConfig) {
	c.OnOwnership = func(os []enrpnet.Ownership) {
		s.reqs <- func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			for _, o := range os {
				k := o.Pool + "/" + handlespace.IDString(o.ID)
				if o.Elem == nil {
					delete(s.owned, k)
					continue
				}
				s.owned[k] = o.Elem
				if o.Handed {
					s.handed++
				}
			}
		}
	}
	c.Durable = func(done func()) { s.reqs <- done }
}

func (s *gatedStore) has(k string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.owned[k] != nil
}

// TestDriverHandoffDurable: a peer acknowledges a hand-off only once the
// registrations handed to it are in its store (DriverConfig.Durable),
// so that the leaver, which stops on the acknowledgement, never leaves a
// registration that a kill -9 of the peer right after would lose. While
// B's and C's stores write nothing, A's hand-off does not end although
// both took it; once they write, it ends, and by then each registration
// is stored at its new home, stored before the handlespace had it
// (Ownership.Handed) and not written again.
func TestDriverHandoffDurable(t *testing.T) {
	sb, sc := newGatedStore(t), newGatedStore(t)
	a := startRegistrar(t, 0xa, nil)
	b := startRegistrarWith(t, 0xb, nil, sb.edit, a.drv.Addr().String())
	c := startRegistrarWith(t, 0xc, nil, sc.edit, a.drv.Addr().String(), b.drv.Addr().String())
	for _, r := range []*registrar{a, b, c} {
		r.log.waitLog(t, "static-homes", "live 3")
	}
	const n = 300
	var keys []string
	for i := range n {
		pool := fmt.Sprintf("r%d.pool.test.", i%3)
		e := &handlespace.Element{ID: uint32(5000 + i), Label: handlespace.LabelOf(fmt.Sprintf("h%d", i)),
			Addrs: handlespace.AddrsOf(netip.AddrFrom4([4]byte{10, 2, byte(i >> 8), byte(i)})), Port: 80, Expires: handlespace.ExpiryOf(time.Now().Add(time.Hour))}
		if err := a.hs.Do(handlespace.Op{Pool: pool, Elem: e}); err != nil {
			t.Fatal(err)
		}
		keys = append(keys, pool+"/"+handlespace.IDString(e.ID))
	}
	count := func(hs *handlespace.Handlespace, home uint32) int {
		got := 0
		for i := range 3 {
			if pv := hs.View().Pool(fmt.Sprintf("r%d.pool.test.", i)); pv != nil {
				for _, e := range pv.Elements() {
					if e.Home == home {
						got++
					}
				}
			}
		}
		return got
	}
	for _, r := range []*registrar{b, c} {
		waitHS(t, r.hs, "A's registrations", func() bool { return count(r.hs, 0xa) == n })
	}
	left := make(chan bool, 1)
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	go func() { left <- a.drv.Leave(ctx) }()
	b.log.waitLog(t, "handoff-in", "peer=0000000a")
	c.log.waitLog(t, "handoff-in", "peer=0000000a")
	// Both took it; without their stores' word, no acknowledgement may
	// reach A. (Before Durable, the acknowledgements went at once, and
	// A's hand-off ended within milliseconds of this point.)
	select {
	case ok := <-left:
		t.Fatalf("A's hand-off ended (%v) before B and C stored what it handed them", ok)
	case <-time.After(300 * time.Millisecond):
	}
	close(sb.open)
	close(sc.open)
	select {
	case ok := <-left:
		if !ok {
			t.Fatal("A's hand-off did not end")
		}
	case <-time.After(waitLimit):
		t.Fatal("A's hand-off did not end once B and C stored it")
	}
	// Acknowledged: each registration is in its new home's store.
	for _, k := range keys {
		if !sb.has(k) && !sc.has(k) {
			t.Errorf("%s acknowledged but stored neither at B nor at C", k)
		}
	}
	for _, r := range []*registrar{b, c} {
		waitHS(t, r.hs, "A's registrations homed at B and C", func() bool { return count(r.hs, 0xb)+count(r.hs, 0xc) == n })
	}
	sb.mu.Lock()
	sc.mu.Lock()
	stored, handed := len(sb.owned)+len(sc.owned), sb.handed+sc.handed
	sc.mu.Unlock()
	sb.mu.Unlock()
	if stored != n || handed != n {
		t.Errorf("B and C store %d registrations, %d written as handed, want %d and %d (each written once, as it came)", stored, handed, n, n)
	}
}
