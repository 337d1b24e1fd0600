package zones

import (
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// WatchConfig configures Watch. Zero values have the defaults given.
type WatchConfig struct {
	// Quiet is how long the directory must be quiet after a change
	// before Watch says so: a copy or an editor's save is several events
	// (default 200 ms).
	Quiet time.Duration
	// OpenLimit is how long a *.zone file written in place may stay open
	// for writing, with no write, before a reload reads it all the same
	// (default 30 s). Only where Watch knows when a writer closes a file
	// (Linux).
	OpenLimit time.Duration
	// Logger gets a debug line per change seen and a warning when a file
	// stays open past OpenLimit (default slog.Default()).
	Logger *slog.Logger
}

func (c *WatchConfig) defaults() {
	if c.Quiet <= 0 {
		c.Quiet = 200 * time.Millisecond
	}
	if c.OpenLimit <= 0 {
		c.OpenLimit = 30 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Watcher says when the files of a zones directory have changed and are
// complete, so that a reload reads whole files (see Watch).
type Watcher struct {
	changed chan struct{}
	errs    chan error
	src     eventSource
	stop    chan struct{}
	done    chan struct{}
	once    sync.Once
}

// Changed gets a value when the directory has changed and settled: the
// caller reloads then. Several changes before the caller reads make one.
func (w *Watcher) Changed() <-chan struct{} { return w.changed }

// Errors gets the watcher's errors (the directory removed, an event queue
// overflow is no error: it counts as a change).
func (w *Watcher) Errors() <-chan error { return w.errs }

// Close stops watching.
func (w *Watcher) Close() error {
	var err error
	w.once.Do(func() {
		close(w.stop)
		err = w.src.close()
		<-w.done
	})
	return err
}

// evKind is what happened to a file, as the sources tell it.
type evKind int

const (
	// evChanged: the file is there as it will stay (created, renamed in,
	// removed, renamed away, or written where the source cannot tell
	// when its writer is done).
	evChanged evKind = iota
	// evWriting: the file was written in place and is still open for
	// writing (Linux: IN_MODIFY before IN_CLOSE_WRITE).
	evWriting
	// evClosed: a writer closed the file (Linux: IN_CLOSE_WRITE).
	evClosed
	// evOverflow: events were lost; count it as a change of everything.
	evOverflow
)

// event is a source's report of one file (base name) of the directory.
type event struct {
	name string
	kind evKind
}

// eventSource is where events come from: inotify on Linux, fsnotify elsewhere.
type eventSource interface {
	events() <-chan event
	errors() <-chan error
	close() error
}

// Watch watches dir (its files, not its subdirectories) and says on
// Changed when its zone files have changed and settled: after Quiet
// without events, and — where the system tells when a writer closes a
// file (Linux, inotify's IN_CLOSE_WRITE) — only once every *.zone file
// written in place has been closed, so that a file written in parts with
// pauses between is never read half-written. A file replaced by a rename
// (mv, an editor's atomic save) counts at once. Files of other names
// ($INCLUDEd ones) count after Quiet, as everywhere on other systems:
// replace those atomically (write a temporary file, then rename it).
func Watch(dir string, cfg WatchConfig) (*Watcher, error) {
	cfg.defaults()
	src, err := newSource(dir)
	if err != nil {
		return nil, err
	}
	w := &Watcher{changed: make(chan struct{}, 1), errs: make(chan error, 4), src: src,
		stop: make(chan struct{}), done: make(chan struct{})}
	go w.run(dir, cfg)
	return w, nil
}

func (w *Watcher) run(dir string, cfg WatchConfig) {
	defer close(w.done)
	st := newSettle(cfg.Quiet, cfg.OpenLimit)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	arm := func(next time.Time) {
		timer.Stop()
		if !next.IsZero() {
			timer.Reset(max(time.Until(next), 0))
		}
	}
	evs, errs := w.src.events(), w.src.errors()
	for {
		select {
		case <-w.stop:
			return
		case ev, ok := <-evs:
			if !ok {
				return
			}
			if ev.kind == evWriting && !st.writing(ev.name) && isZoneFile(ev.name) {
				cfg.Logger.Debug("zone file being written in place; it is read once its writer closes it",
					"file", filepath.Join(dir, ev.name))
			} else {
				cfg.Logger.Debug("zones directory changed", "file", filepath.Join(dir, ev.name), "op", ev.kind.String())
			}
			arm(st.event(ev, time.Now()))
		case err, ok := <-errs:
			if !ok {
				return
			}
			select {
			case w.errs <- err:
			default:
			}
		case <-timer.C:
			fire, stale, next := st.due(time.Now())
			for _, name := range stale {
				cfg.Logger.Warn("zone file still open for writing, unchanged for a while; reading it as it is",
					"file", filepath.Join(dir, name), "open_limit", cfg.OpenLimit.String())
			}
			if fire {
				select {
				case w.changed <- struct{}{}:
				default: // one is waiting already
				}
			}
			arm(next)
		}
	}
}

func (k evKind) String() string {
	switch k {
	case evChanged:
		return "changed"
	case evWriting:
		return "written"
	case evClosed:
		return "closed"
	case evOverflow:
		return "overflow"
	}
	return "?"
}

// isZoneFile reports whether name is a file LoadDir reads.
func isZoneFile(name string) bool { return strings.HasSuffix(name, ".zone") && name != ".zone" }

// settle decides when a directory's changes are complete: it takes the
// sources' events and the time, and says when to look again and whether
// to reload then. It does no I/O and reads no clock.
type settle struct {
	quiet, openLimit time.Duration
	dirty            bool                 // a change not yet told
	last             time.Time            // the last event
	open             map[string]time.Time // *.zone files being written in place: their last write
}

func newSettle(quiet, openLimit time.Duration) *settle {
	return &settle{quiet: quiet, openLimit: openLimit, open: map[string]time.Time{}}
}

func (s *settle) writing(name string) bool { _, ok := s.open[name]; return ok }

// event takes an event at now and returns when to call due next.
func (s *settle) event(ev event, now time.Time) time.Time {
	s.last = now
	switch {
	case ev.kind == evOverflow:
		s.dirty = true
		clear(s.open) // what was open is unknown now; the quiet decides
	case ev.kind == evWriting && isZoneFile(ev.name):
		s.open[ev.name] = now
	default:
		// Written (where closes are not told), closed, created, renamed
		// or removed: a change; a file renamed or removed is no longer
		// open under its name.
		delete(s.open, ev.name)
		s.dirty = true
	}
	return s.next()
}

// next is when due has something to decide, zero if never: the end of
// the quiet after a change when no zone file is open, else the first
// open file's limit (its close, an event, decides before).
func (s *settle) next() time.Time {
	var t time.Time
	if s.dirty && len(s.open) == 0 {
		t = s.last.Add(s.quiet)
	}
	for _, at := range s.open {
		if lim := at.Add(s.openLimit); t.IsZero() || lim.Before(t) {
			t = lim
		}
	}
	return t
}

// due is called at now (at or after what event or due said): fire is
// true when the caller is to reload; stale names the files given up on
// (open past openLimit: counted as changed); next is when to call again.
func (s *settle) due(now time.Time) (fire bool, stale []string, next time.Time) {
	for name, at := range s.open {
		if !now.Before(at.Add(s.openLimit)) {
			delete(s.open, name)
			stale = append(stale, name)
			s.dirty = true
			if at.After(s.last) {
				s.last = at
			}
		}
	}
	if s.dirty && len(s.open) == 0 && !now.Before(s.last.Add(s.quiet)) {
		s.dirty = false
		fire = true
	}
	return fire, stale, s.next()
}
