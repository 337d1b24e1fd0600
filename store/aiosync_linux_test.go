package store

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// TestAIOSync: the syncer flushes a file and reaps its request (nothing
// left in its context), refuses a pipe with errNoAIOSync (the log then
// calls fdatasync, which fails as it would have) and a closed file with
// an error; the element log uses it.
func TestAIOSync(t *testing.T) {
	a := newAIOSyncer()
	if a == nil {
		t.Skip("this kernel has no AIO (io_setup failed): the log syncs with fdatasync")
	}
	t.Cleanup(a.close)
	f, err := os.Create(filepath.Join(t.TempDir(), "f"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	for i := 0; i < 20; i++ {
		if _, err := f.Write(make([]byte, 4096)); err != nil {
			t.Fatal(err)
		}
		if err := a.sync(f); err != nil {
			t.Fatalf("sync %d: %v", i, err)
		}
		var ev ioEvent
		n, _, e := unix.Syscall6(unix.SYS_IO_GETEVENTS, a.ctx, 0, 1, uintptr(unsafe.Pointer(&ev)), uintptr(unsafe.Pointer(&unix.Timespec{})), 0)
		if e != 0 || n != 0 {
			t.Fatalf("after sync %d: io_getevents %d, %v; want no completion left", i, n, e)
		}
	}

	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(); w.Close() })
	if err := a.sync(w); !errors.Is(err, errNoAIOSync) {
		t.Errorf("sync of a pipe: %v, want errNoAIOSync", err)
	}
	if err := fdatasync(w); err == nil {
		t.Error("fdatasync of a pipe: no error")
	}
	g, err := os.Create(filepath.Join(t.TempDir(), "g"))
	if err != nil {
		t.Fatal(err)
	}
	g.Close()
	if err := a.sync(g); err == nil || errors.Is(err, errNoAIOSync) {
		t.Errorf("sync of a closed file: %v, want its error", err)
	}

	s := openTestStore(t, t.TempDir())
	if s.log.aio == nil {
		t.Error("the element log syncs without the AIO syncer")
	}
	if err := s.Commit([]Write{{Pool: "web.pool.example.", Elem: logElem(1, 1)}}); err != nil {
		t.Fatal(err)
	}
}

// TestIOCBLayout: iocb and ioEvent have the sizes and the named fields
// the offsets of linux/aio_abi.h (the kernel reads them by offset).
func TestIOCBLayout(t *testing.T) {
	var cb iocb
	for _, c := range []struct {
		what      string
		got, want uintptr
	}{
		{"sizeof iocb", unsafe.Sizeof(cb), 64},
		{"aio_lio_opcode", unsafe.Offsetof(cb.opcode), 16},
		{"aio_fildes", unsafe.Offsetof(cb.fildes), 20},
		{"aio_flags", unsafe.Offsetof(cb.flags), 56},
		{"aio_resfd", unsafe.Offsetof(cb.resfd), 60},
		{"sizeof io_event", unsafe.Sizeof(ioEvent{}), 32},
	} {
		if c.got != c.want {
			t.Errorf("%s: %d, want %d", c.what, c.got, c.want)
		}
	}
}
