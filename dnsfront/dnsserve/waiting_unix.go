//go:build unix && !linux

package dnsserve

import "golang.org/x/sys/unix"

// Waiting reports whether a datagram waits on the socket to be read:
// poll(2) with a zero timeout. A Loop that does work of its own between
// batches (Sent) checks it to go back to reading.
func (s *Socket) Waiting() bool {
	if s.fd < 0 {
		return false
	}
	fds := [1]unix.PollFd{{Fd: int32(s.fd), Events: unix.POLLIN}}
	n, err := unix.Poll(fds[:], 0)
	return err == nil && n > 0 && fds[0].Revents&unix.POLLIN != 0
}
