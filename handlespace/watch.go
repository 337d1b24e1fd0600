package handlespace

import "sync"

// Watch follows which pools changed, for a reader that looks at the
// handlespace now and then (a sampler, a flusher) and should not look at
// every pool each time: Changed returns the names of the pools that got
// a new view (or were created or removed) since its last call, so that a
// reader's work per look is the number of changes, not of pools.
//
// A Watch starts with every pool changed (its first Changed says all).
// A zone reload (ApplyZones) also marks every pool changed. Writers add a
// pool's name once per batch that changes it, under the writer lock: O(1)
// per changed pool and Watch.
type Watch struct {
	h *Handlespace
	c chan struct{}

	mu    sync.Mutex
	names map[string]struct{}
	all   bool
}

// Watch returns a new Watch of h's pools. Close it when done with it.
func (h *Handlespace) Watch() *Watch {
	w := &Watch{h: h, c: make(chan struct{}, 1), names: map[string]struct{}{}, all: true}
	w.c <- struct{}{}
	h.mu.Lock()
	h.watches = append(h.watches, w)
	h.mu.Unlock()
	return w
}

// C returns a channel that receives a value after changes: one pending
// value at most (as Subscribe's). A new Watch has one pending.
func (w *Watch) C() <-chan struct{} { return w.c }

// Changed returns the names of the pools changed since the last call (in
// no order; as PoolView.Name spells them), or all true
// when any pool may have changed (names is then nil): the caller looks at
// every pool. The pool's current view (View().Pool(name), nil if it is
// gone) may be newer than the change that named it; a later change names
// it again.
func (w *Watch) Changed() (names []string, all bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.all {
		w.all = false
		clear(w.names)
		return nil, true
	}
	if len(w.names) == 0 {
		return nil, false
	}
	names = make([]string, 0, len(w.names))
	for n := range w.names {
		names = append(names, n)
	}
	clear(w.names)
	return names, false
}

// Requeue marks names changed again (a reader that could not finish its
// work with them looks at them at its next Changed), or every pool when
// all is set.
func (w *Watch) Requeue(names []string, all bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if all {
		w.all = true
		return
	}
	for _, n := range names {
		w.names[n] = struct{}{}
	}
}

// Close stops the Watch: it gets no more changes.
func (w *Watch) Close() {
	h := w.h
	h.mu.Lock()
	defer h.mu.Unlock()
	for i, x := range h.watches {
		if x == w {
			h.watches = append(h.watches[:i:i], h.watches[i+1:]...)
			return
		}
	}
}

// mark notes that pool name changed (all: every pool). Called by writers
// with h.mu held; wake tells the reader (once per batch is enough).
func (w *Watch) mark(name string, all bool) {
	w.mu.Lock()
	if all {
		w.all = true
		clear(w.names)
	} else if !w.all {
		w.names[name] = struct{}{}
	}
	w.mu.Unlock()
}

// wake sends w's channel a value if none is pending.
func (w *Watch) wake() {
	select {
	case w.c <- struct{}{}:
	default:
	}
}
