package handlespace

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
)

// Errors of the write operations. They print with the "handlespace: "
// prefix.
var (
	// ErrNoZone: the pool's name is not directly under a served zone.
	ErrNoZone = errors.New("handlespace: pool name is not a handle directly under a served zone")
	// ErrNoPool: the pool does not exist.
	ErrNoPool = errors.New("handlespace: no such pool")
	// ErrNoElement: the pool has no element with that identifier.
	ErrNoElement = errors.New("handlespace: no such pool element")
	// ErrInconsistentPolicy: the registration asks for a policy other than
	// the pool's (RFC 5354 operation error "inconsistent pooling policy").
	ErrInconsistentPolicy = errors.New("handlespace: inconsistent pooling policy")
	// ErrLabelInUse: another element of the pool already has that name.
	ErrLabelInUse = errors.New("handlespace: element name already used by another element of the pool")
	// ErrNameTaken: the pool's name already has static records.
	ErrNameTaken = errors.New("handlespace: name has static records")
	// ErrBadElement: the element lacks an address, a port or a label.
	ErrBadElement = errors.New("handlespace: element needs a label, a port and at least one address")
)

// Options configure a Handlespace. Zero values have defaults.
type Options struct {
	// Now is the clock, time.Now if nil. Testing.
	Now func() time.Time
	// Rand is the random source of the policies, DefaultRand if nil.
	Rand Rand
	// RegistrarID is this registrar's ID, the home of the elements it accepts.
	RegistrarID uint32
	// DefaultSpec is the spec of pools created by a registration;
	// DefaultPoolSpec() if its Policy is empty.
	DefaultSpec PoolSpec
	// Probing says that a prober sets the health of the elements of pools
	// with a probe spec: they start unknown (unserved) until it does.
	// Without one every element starts up.
	Probing bool
}

// Handlespace is the set of served zones and their pools. Readers call View
// and never block; writers are serialised and publish new immutable views.
type Handlespace struct {
	mu       sync.Mutex // serialises writers
	view     atomic.Pointer[View]
	opts     Options
	policies map[string]Policy // guarded by mu
	subs     []chan struct{}   // guarded by mu
	watches  []*Watch          // guarded by mu
	static   staticHomes       // homes of zone-file elements (edits.go)
	sc       scratch           // writers' working memory; guarded by mu
	b        batch             // Apply's working state; guarded by mu
}

// Subscribe returns a channel that receives a value after changes: one
// pending value at most, so a slow reader sees that something changed
// since it last looked, not every change. It is never closed.
func (h *Handlespace) Subscribe() <-chan struct{} {
	c := make(chan struct{}, 1)
	h.mu.Lock()
	h.subs = append(h.subs, c)
	h.mu.Unlock()
	return c
}

// Unsubscribe stops the changes to c, a channel that Subscribe returned.
func (h *Handlespace) Unsubscribe(c <-chan struct{}) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for i, s := range h.subs {
		if (<-chan struct{})(s) == c {
			h.subs = append(h.subs[:i:i], h.subs[i+1:]...)
			return
		}
	}
}

// notify tells the subscribers and watches that something changed.
// Called with mu held.
func (h *Handlespace) notify() {
	for _, c := range h.subs {
		select {
		case c <- struct{}{}:
		default:
		}
	}
	for _, w := range h.watches {
		w.wake()
	}
}

// changedPool tells the watches that pool name changed (all: any pool
// may have). Called with mu held, before notify.
func (h *Handlespace) changedPool(name string, all bool) {
	for _, w := range h.watches {
		w.mark(name, all)
	}
}

// New returns an empty handlespace.
func New(o Options) *Handlespace {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Rand == nil {
		o.Rand = DefaultRand
	}
	if o.DefaultSpec.Policy == "" {
		o.DefaultSpec = DefaultPoolSpec()
	}
	h := &Handlespace{opts: o, policies: map[string]Policy{}}
	h.view.Store(&View{zones: map[string]*Zone{}})
	return h
}

// View returns the current view. It never blocks.
func (h *Handlespace) View() *View { return h.view.Load() }

// RegistrarID returns this registrar's ID.
func (h *Handlespace) RegistrarID() uint32 { return h.opts.RegistrarID }

// policy returns the policy of pools of the given spec (its name, and its
// distance settings for a distance-penalty policy), one value per kind.
func (h *Handlespace) policy(spec PoolSpec) (Policy, error) {
	key := spec.Policy
	if DistancePolicy(key) {
		d := DistanceOf(spec)
		key = fmt.Sprintf("%s/%d/%d", key, d.DPF, d.StepMs)
	}
	if p := h.policies[key]; p != nil {
		return p, nil
	}
	p, err := PolicyFor(spec, h.opts.Rand)
	if err != nil {
		return nil, err
	}
	h.policies[key] = p
	return p, nil
}

// ApplyZones replaces every zone by defs in one atomic change. Pools keep
// their per-query state, elements defined again (same identifier) keep their
// health and load, and registered elements stay. On error nothing changes.
func (h *Handlespace) ApplyZones(defs []ZoneDef) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	old := h.view.Load()
	nv := &View{zones: make(map[string]*Zone, len(defs))}
	type pending struct {
		slot *poolSlot
		view *PoolView
	}
	var publish []pending
	for i := range defs {
		d := &defs[i]
		if prev, dup := nv.zones[d.Origin]; dup {
			return fmt.Errorf("%s: zone %s is already defined in %s", d.File, d.Origin, prev.File)
		}
		z, err := buildZone(d)
		if err != nil {
			return err
		}
		oz := old.zones[d.Origin]
		seen := map[string]bool{}
		for j := range d.Pools {
			pd := &d.Pools[j]
			if seen[pd.Handle] {
				return fmt.Errorf("%s:%d: pool %s is defined twice", d.File, pd.Line, pd.Handle)
			}
			seen[pd.Handle] = true
			name := pd.Handle + "." + d.Origin
			if _, taken := z.Nodes[name]; taken {
				return fmt.Errorf("%s:%d: pool %s: the name %s also has static records; a pool's names are its own", d.File, pd.Line, pd.Handle, name)
			}
			pol, err := h.policy(pd.Spec)
			if err != nil {
				return fmt.Errorf("%s:%d: %v", d.File, pd.Line, err)
			}
			var slot *poolSlot
			var prev *PoolView
			if oz != nil {
				if slot = oz.pools[pd.Handle]; slot != nil {
					prev = slot.View()
				}
			}
			if slot == nil {
				slot = &poolSlot{}
			}
			elems, err := h.mergeStatic(name, pd, prev)
			if err != nil {
				return fmt.Errorf("%s:%d: pool %s: %v", d.File, pd.Line, pd.Handle, err)
			}
			z.pools[pd.Handle] = slot
			publish = append(publish, pending{slot, buildPoolView(name, pd.Handle, d.Origin, pd.Spec, true, elems, prev, pol, h.opts.RegistrarID)})
		}
		// Pools that the file no longer defines live on while they have
		// registered elements.
		if oz != nil {
			for handle, slot := range oz.pools {
				if seen[handle] {
					continue
				}
				prev := slot.View()
				var dyn []*Element
				for e := range prev.Range() {
					if !e.Static {
						dyn = append(dyn, e)
					}
				}
				if len(dyn) == 0 || z.Nodes[prev.Name] != nil {
					continue
				}
				spec := prev.Spec
				if prev.Static {
					spec = h.opts.DefaultSpec
					spec.Policy = prev.Spec.Policy
				}
				pol, err := h.policy(spec)
				if err != nil {
					return err
				}
				z.pools[handle] = slot
				publish = append(publish, pending{slot, buildPoolView(prev.Name, handle, d.Origin, spec, false, dyn, prev, pol, h.opts.RegistrarID)})
			}
		}
		nv.zones[d.Origin] = z
		if n := dns.CountLabel(d.Origin); n > nv.maxLabels {
			nv.maxLabels = n
		}
	}
	for _, p := range publish {
		p.slot.v.Store(p.view)
	}
	h.view.Store(nv)
	h.changedPool("", true)
	h.notify()
	return nil
}

// mergeStatic returns the pool's elements after a reload: the file's static
// elements (keeping health and load of those that were there before) and the
// registered elements of the previous view, sorted by ID.
func (h *Handlespace) mergeStatic(name string, pd *PoolDef, prev *PoolView) ([]*Element, error) {
	elems := make([]*Element, 0, len(pd.Elements))
	ids := map[uint32]bool{}
	labels := map[string]bool{}
	for _, se := range pd.Elements {
		if ids[se.ID] {
			return nil, fmt.Errorf("element %s (%s) is defined twice", se.Label.String(), IDString(se.ID))
		}
		if labels[se.Label.String()] {
			return nil, fmt.Errorf("element name %s is used twice", se.Label.String())
		}
		ids[se.ID], labels[se.Label.String()] = true, true
		e := se.Clone()
		e.Static = true
		e.Home = h.staticHome(name, e.ID)
		e.Health = h.initialHealth(pd.Spec, e)
		if prev != nil {
			if pe := prev.Element(e.ID); pe != nil && pe.Static {
				if e.Health != HealthUp {
					e.Health = pe.Health
				}
				e.Load, e.RTT, e.LocalRTT, e.Admin, e.Reported = pe.Load, pe.RTT, pe.LocalRTT, pe.Admin, pe.Reported
			}
		}
		elems = append(elems, e)
	}
	if prev != nil {
		for pe := range prev.Range() {
			if pe.Static || ids[pe.ID] || labels[pe.Label.String()] {
				continue
			}
			elems = append(elems, pe)
		}
	}
	sortByID(elems)
	return elems, nil
}

func (h *Handlespace) initialHealth(spec PoolSpec, e *Element) Health {
	probed := spec.Probe.Probed()
	if ps := e.Probe.Spec(); ps != nil {
		probed = ps.Probed()
	}
	if h.opts.Probing && probed {
		return HealthUnknown
	}
	return HealthUp
}

func sortByID(es []*Element) {
	slices.SortFunc(es, func(a, b *Element) int {
		switch {
		case a.ID < b.ID:
			return -1
		case a.ID > b.ID:
			return 1
		}
		return 0
	})
}

// buildZone builds the static part of a zone from its definition.
func buildZone(d *ZoneDef) (*Zone, error) {
	z := &Zone{Origin: d.Origin, File: d.File, Nodes: map[string]*Node{}, pools: map[string]*poolSlot{}}
	for _, rr := range d.Records {
		hdr := rr.Header()
		name := strings.ToLower(hdr.Name)
		if !dns.IsSubDomain(d.Origin, name) {
			return nil, fmt.Errorf("%s: record %s is outside zone %s", d.File, hdr.Name, d.Origin)
		}
		n := z.Nodes[name]
		if n == nil || n.RRs == nil {
			n = &Node{Name: hdr.Name, RRs: map[uint16][]dns.RR{}}
			z.Nodes[name] = n
		}
		n.RRs[hdr.Rrtype] = append(n.RRs[hdr.Rrtype], rr)
		// Empty non-terminals between the name and the origin exist too.
		for p := name; p != d.Origin; {
			i := indexLabelEnd(p, 0)
			if i < 0 || i+1 >= len(p) {
				break
			}
			p = p[i+1:]
			if _, ok := z.Nodes[p]; !ok {
				z.Nodes[p] = &Node{Name: p}
			}
		}
		if soa, ok := rr.(*dns.SOA); ok {
			if name != d.Origin {
				return nil, fmt.Errorf("%s: SOA record at %s, not at the zone's origin %s", d.File, hdr.Name, d.Origin)
			}
			if z.SOA != nil {
				return nil, fmt.Errorf("%s: zone %s has more than one SOA record", d.File, d.Origin)
			}
			z.SOA = soa
		}
	}
	if z.SOA == nil {
		return nil, fmt.Errorf("%s: zone %s has no SOA record; a zone needs one at its origin", d.File, d.Origin)
	}
	z.NegTTL = min(z.SOA.Hdr.Ttl, z.SOA.Minttl)
	if z.Nodes[d.Origin].RRs[dns.TypeNS] == nil {
		return nil, fmt.Errorf("%s: zone %s has no NS record at its origin", d.File, d.Origin)
	}
	return z, nil
}

// splitPool splits a pool name into its handle and its parent's name.
func splitPool(pool string) (handle, parent string, ok bool) {
	i := indexLabelEnd(pool, 0)
	if i <= 0 || i+1 >= len(pool) {
		return "", "", false
	}
	return pool[:i], pool[i+1:], true
}

// Do applies ops as one group, all or nothing, and publishes the result:
// Apply of one group without a commit function. It returns the group's
// error.
func (h *Handlespace) Do(ops ...Op) error {
	var errs [1]error
	h.apply([][]Op{ops}, nil, errs[:])
	return errs[0]
}

// Update applies f to a copy of the element id of pool and publishes it.
func (h *Handlespace) Update(pool string, id uint32, f func(e *Element)) error {
	return h.UpdateMany(pool, map[uint32]func(*Element){id: f})
}

// UpdateMany applies several element updates to one pool and publishes one
// new view of it. Elements that are gone are skipped; if none is left,
// ErrNoElement.
func (h *Handlespace) UpdateMany(pool string, fs map[uint32]func(e *Element)) error {
	groups := make([][]Op, 0, len(fs))
	for id, f := range fs {
		groups = append(groups, []Op{{Pool: pool, ID: id, update: f}})
	}
	var first error
	for _, err := range h.Apply(groups, nil) {
		if err == nil {
			return nil
		}
		if first == nil || !errors.Is(err, ErrNoElement) {
			first = err
		}
	}
	if first == nil {
		return ErrNoElement
	}
	return first
}

// Now returns the handlespace's clock reading.
func (h *Handlespace) Now() time.Time { return h.opts.Now() }
