//go:build !linux

package zones

import (
	"fmt"
	"path/filepath"

	"github.com/fsnotify/fsnotify"
)

// fsnotifySource watches a directory with fsnotify, which does not tell
// when a writer closes a file: a write counts as a change, and the quiet
// period alone separates a save from the next.
type fsnotifySource struct {
	w    *fsnotify.Watcher
	evs  chan event
	errs chan error
}

func newSource(dir string) (eventSource, error) {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, fmt.Errorf("zones: watch %s: %w", dir, err)
	}
	if err := w.Add(dir); err != nil {
		w.Close()
		return nil, fmt.Errorf("zones: watch %s: %w", dir, err)
	}
	s := &fsnotifySource{w: w, evs: make(chan event, 64), errs: make(chan error, 1)}
	go s.read()
	return s, nil
}

func (s *fsnotifySource) events() <-chan event { return s.evs }
func (s *fsnotifySource) errors() <-chan error { return s.errs }
func (s *fsnotifySource) close() error         { return s.w.Close() }

func (s *fsnotifySource) read() {
	defer close(s.evs)
	defer close(s.errs)
	for {
		select {
		case ev, ok := <-s.w.Events:
			if !ok {
				return
			}
			if ev.Op == fsnotify.Chmod {
				continue
			}
			s.evs <- event{name: filepath.Base(ev.Name), kind: evChanged}
		case err, ok := <-s.w.Errors:
			if !ok {
				return
			}
			if err == fsnotify.ErrEventOverflow {
				s.evs <- event{kind: evOverflow}
				continue
			}
			select {
			case s.errs <- err:
			default:
			}
		}
	}
}

var _ eventSource = (*fsnotifySource)(nil)
