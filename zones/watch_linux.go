package zones

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// inotifySource watches a directory with inotify(7), which tells when a
// writer closes a file (IN_CLOSE_WRITE): what fsnotify does not pass on.
type inotifySource struct {
	f    *os.File
	evs  chan event
	errs chan error
}

// inotifyMask: files created, written, closed after writing, moved in or
// out, removed; the directory itself removed or moved.
const inotifyMask = unix.IN_CREATE | unix.IN_MODIFY | unix.IN_CLOSE_WRITE | unix.IN_MOVED_FROM | unix.IN_MOVED_TO |
	unix.IN_DELETE | unix.IN_DELETE_SELF | unix.IN_MOVE_SELF | unix.IN_ONLYDIR

func newSource(dir string) (eventSource, error) {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("zones: watch %s: inotify: %w", dir, err)
	}
	if _, err := unix.InotifyAddWatch(fd, dir, inotifyMask); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("zones: watch %s: %w", dir, err)
	}
	// Non-blocking, so that the runtime's poller waits for it and Close
	// ends a Read in progress.
	s := &inotifySource{f: os.NewFile(uintptr(fd), "inotify"), evs: make(chan event, 64), errs: make(chan error, 1)}
	go s.read(dir)
	return s, nil
}

func (s *inotifySource) events() <-chan event { return s.evs }
func (s *inotifySource) errors() <-chan error { return s.errs }
func (s *inotifySource) close() error         { return s.f.Close() }

func (s *inotifySource) read(dir string) {
	defer close(s.evs)
	defer close(s.errs)
	buf := make([]byte, 64*(unix.SizeofInotifyEvent+unix.NAME_MAX+1))
	for {
		n, err := s.f.Read(buf)
		if err != nil {
			if !errors.Is(err, os.ErrClosed) {
				s.errs <- fmt.Errorf("zones: watch %s: %w", dir, err)
			}
			return
		}
		for b := buf[:n]; len(b) >= unix.SizeofInotifyEvent; {
			// struct inotify_event: wd, mask, cookie, len, name[len].
			mask := binary.NativeEndian.Uint32(b[4:])
			l := int(binary.NativeEndian.Uint32(b[12:]))
			if unix.SizeofInotifyEvent+l > len(b) {
				break
			}
			name := string(bytes.TrimRight(b[unix.SizeofInotifyEvent:unix.SizeofInotifyEvent+l], "\x00"))
			b = b[unix.SizeofInotifyEvent+l:]
			switch {
			case mask&unix.IN_Q_OVERFLOW != 0:
				s.evs <- event{kind: evOverflow}
			case mask&(unix.IN_DELETE_SELF|unix.IN_MOVE_SELF) != 0:
				s.errs <- fmt.Errorf("zones: watch %s: the directory was removed or moved; changes are no longer seen (reload with SIGHUP)", dir)
			case mask&unix.IN_IGNORED != 0, name == "":
			case mask&unix.IN_CLOSE_WRITE != 0:
				s.evs <- event{name: name, kind: evClosed}
			case mask&unix.IN_MODIFY != 0:
				s.evs <- event{name: name, kind: evWriting}
			case mask&unix.IN_CREATE != 0 && regular(filepath.Join(dir, name)):
				// Created by open(2) (a shell's >, cp, an editor), and
				// open: its IN_CLOSE_WRITE comes when it is written.
				s.evs <- event{name: name, kind: evWriting}
			default: // created otherwise (a link), moved in or out, deleted
				s.evs <- event{name: name, kind: evChanged}
			}
		}
	}
}

var _ eventSource = (*inotifySource)(nil)

// regular reports whether path is a regular file itself (not a symbolic
// link to one).
func regular(path string) bool {
	fi, err := os.Lstat(path)
	return err == nil && fi.Mode().IsRegular()
}
