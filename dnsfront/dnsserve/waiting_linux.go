package dnsserve

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// Waiting reports whether a datagram waits on the socket to be read:
// ppoll(2) with a zero timeout, a raw system call (it never blocks, so the
// scheduler need not hand the P off, as package udpbatch's reads do). A
// Loop that does work of its own between batches (Sent) checks it to go
// back to reading.
func (s *Socket) Waiting() bool {
	if s.fd < 0 {
		return false
	}
	fds := [1]unix.PollFd{{Fd: int32(s.fd), Events: unix.POLLIN}}
	var zero unix.Timespec
	for {
		n, _, e := unix.RawSyscall6(unix.SYS_PPOLL, uintptr(unsafe.Pointer(&fds[0])), 1, uintptr(unsafe.Pointer(&zero)), 0, 0, 0)
		if e == unix.EINTR {
			continue
		}
		return e == 0 && n > 0 && fds[0].Revents&unix.POLLIN != 0
	}
}
