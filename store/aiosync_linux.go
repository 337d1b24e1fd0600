package store

import (
	"errors"
	"os"
	"runtime"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// An fdatasync that does not hold the Go scheduler's P while the disk
// works. A goroutine in a system call keeps its P until sysmon takes it
// back (after 20 µs to 10 ms, by how idle sysmon has found the process):
// with GOMAXPROCS=1 nothing else of the process runs meanwhile, and the
// log's fdatasync of each group commit (1–3 ms on this project's VM) held
// the DNS loop off for as long (issue 13 part 3: 758 ms of the loop's
// 1.47 s of waits over 0.3 ms in a 3 s runtime trace of 1 000
// registrations/s beside 20 000 q/s). Here the sync is asked of the
// kernel through Linux AIO (IOCB_CMD_FDSYNC, done by a kernel worker) and
// its completion signalled on an eventfd, which the goroutine reads
// through the runtime's poller: it waits parked, like a socket read, and
// the P runs the other goroutines.

// iocb is struct iocb of linux/aio_abi.h (64 bytes). aio_key and
// aio_rw_flags (the two words after aio_data, in an order that depends on
// the byte order) are both 0 here.
type iocb struct {
	_      uint64 // aio_data
	_      uint32 // aio_key / aio_rw_flags
	_      uint32 // aio_rw_flags / aio_key
	opcode uint16 // aio_lio_opcode
	_      int16  // aio_reqprio
	fildes uint32 // aio_fildes
	_      uint64 // aio_buf
	_      uint64 // aio_nbytes
	_      int64  // aio_offset
	_      uint64 // aio_reserved2
	flags  uint32 // aio_flags
	resfd  uint32 // aio_resfd
}

// ioEvent is struct io_event.
type ioEvent struct {
	data, obj uint64
	res, res2 int64
}

const (
	iocbCmdFdsync = 3      // IOCB_CMD_FDSYNC
	iocbFlagResfd = 1 << 0 // IOCB_FLAG_RESFD
)

// aioSyncer syncs files through one AIO context and one eventfd. Its
// methods are not safe for concurrent use (the log's mutex orders them).
type aioSyncer struct {
	ctx uintptr  // aio_context_t
	ev  *os.File // the eventfd, non-blocking: read through the poller
	efd int      // its descriptor
}

// newAIOSyncer returns a syncer, or nil where the kernel offers no AIO
// (the caller then calls fdatasync itself).
func newAIOSyncer() *aioSyncer {
	var ctx uintptr
	if _, _, e := unix.Syscall(unix.SYS_IO_SETUP, 1, uintptr(unsafe.Pointer(&ctx)), 0); e != 0 {
		return nil
	}
	fd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		unix.Syscall(unix.SYS_IO_DESTROY, ctx, 0, 0)
		return nil
	}
	return &aioSyncer{ctx: ctx, ev: os.NewFile(uintptr(fd), "aio-eventfd"), efd: fd}
}

// errNoAIOSync is sync's answer when the kernel refused the request
// itself (a file system without it): the caller falls back to fdatasync.
var errNoAIOSync = errors.New("aio fdsync unsupported")

// sync is fdatasync(f) done by the kernel's AIO worker while this
// goroutine waits parked.
//
// The request is submitted from within the eventfd's poller read (ec.Read,
// its first call), after the poller has forgotten any readiness left from
// before: the first look at the completion is then the poller's wait, not
// a read that finds nothing (the sync takes 0.1–3 ms; that EAGAIN read was
// a system call per commit), and a completion that comes at once is not
// lost (its edge comes after the reset).
func (a *aioSyncer) sync(f *os.File) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	ec, err := a.ev.SyscallConn()
	if err != nil {
		return err
	}
	var (
		serr      syscall.Errno
		submitted uintptr
		cerr      error // rc.Control's
		rerr      error // the eventfd read's
		asked     bool  // the submit was tried
		b         [8]byte
	)
	werr := ec.Read(func(efd uintptr) bool {
		if !asked {
			asked = true
			cerr = rc.Control(func(fd uintptr) {
				cb := &iocb{opcode: iocbCmdFdsync, fildes: uint32(fd), flags: iocbFlagResfd, resfd: uint32(a.efd)}
				cbs := [1]*iocb{cb}
				submitted, _, serr = unix.Syscall(unix.SYS_IO_SUBMIT, a.ctx, 1, uintptr(unsafe.Pointer(&cbs[0])))
				runtime.KeepAlive(cb) // the kernel copies it in io_submit
			})
			// In flight: wait for its signal. Else nothing to wait for.
			return cerr != nil || serr != 0 || submitted != 1
		}
		for {
			_, rerr = unix.Read(int(efd), b[:])
			if rerr != unix.EINTR {
				break
			}
		}
		return rerr != unix.EAGAIN
	})
	switch {
	case !asked: // the eventfd could not be read: nothing submitted
		return werr
	case cerr != nil:
		return cerr
	}
	switch serr {
	case 0:
		if submitted != 1 { // nothing in flight to wait for
			return errNoAIOSync
		}
	case unix.EINVAL, unix.ENOSYS, unix.EOPNOTSUPP:
		return errNoAIOSync
	default:
		return serr
	}
	if werr == nil {
		werr = rerr
	}
	if werr != nil {
		// The request is in flight and cannot be waited for: reap it
		// blocking, as fdatasync would have waited.
		return a.reap(true, werr)
	}
	return a.reap(false, nil)
}

// reap collects the one completed request (blocking: waiting for it in
// the system call) and returns its result; cause is returned if it is
// not nil.
func (a *aioSyncer) reap(blocking bool, cause error) error {
	var ev ioEvent
	var ts *unix.Timespec
	if !blocking {
		ts = &unix.Timespec{} // signalled: it is there
	}
	for {
		n, _, e := unix.Syscall6(unix.SYS_IO_GETEVENTS, a.ctx, 1, 1, uintptr(unsafe.Pointer(&ev)), uintptr(unsafe.Pointer(ts)), 0)
		runtime.KeepAlive(ts)
		if e == unix.EINTR {
			continue
		}
		if e != 0 {
			return e
		}
		if n != 1 {
			return errors.New("aio fdsync: no completion after its signal")
		}
		break
	}
	if cause != nil {
		return cause
	}
	if ev.res < 0 {
		return syscall.Errno(-ev.res)
	}
	return nil
}

// close frees the context and the eventfd.
func (a *aioSyncer) close() {
	unix.Syscall(unix.SYS_IO_DESTROY, a.ctx, 0, 0)
	a.ev.Close()
}
