package geosite

import (
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Watcher tells when a file changes: written, created, renamed over or
// removed. It watches the file's directory, so that a file replaced by a
// rename (as geoipupdate replaces its databases) is seen too.
type Watcher struct {
	w       *fsnotify.Watcher
	changed chan struct{}
	errs    chan error
	done    chan struct{}
}

// Watch starts watching path. A burst of events (a copy, an editor's
// save) is one change, said once the file has been quiet for quiet.
func Watch(path string, quiet time.Duration) (*Watcher, error) {
	fw, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, err
	}
	if err := fw.Add(filepath.Dir(path)); err != nil {
		fw.Close()
		return nil, err
	}
	w := &Watcher{w: fw, changed: make(chan struct{}, 1), errs: make(chan error, 4), done: make(chan struct{})}
	go w.run(filepath.Clean(path), quiet)
	return w, nil
}

// Changed receives once per change (after the quiet time).
func (w *Watcher) Changed() <-chan struct{} { return w.changed }

// Close stops watching and waits for the watcher's goroutine.
func (w *Watcher) Close() error {
	err := w.w.Close()
	<-w.done
	return err
}

func (w *Watcher) run(path string, quiet time.Duration) {
	defer close(w.done)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		select {
		case ev, ok := <-w.w.Events:
			if !ok {
				return
			}
			if filepath.Clean(ev.Name) == path && ev.Op&(fsnotify.Write|fsnotify.Create|fsnotify.Rename|fsnotify.Remove) != 0 {
				timer.Reset(quiet)
			}
		case err, ok := <-w.w.Errors:
			if !ok {
				return
			}
			select {
			case w.errs <- err:
			default:
			}
		case <-timer.C:
			select {
			case w.changed <- struct{}{}:
			default:
			}
		}
	}
}
