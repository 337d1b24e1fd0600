//go:build unix

package dnsfront

import "golang.org/x/sys/unix"

// waiting reports whether a datagram waits on the loop's socket: poll(2)
// with a zero timeout (about a microsecond, against a signature's tens).
func (q *coldQueue) waiting() bool {
	if q.fd < 0 {
		return false
	}
	fds := [1]unix.PollFd{{Fd: int32(q.fd), Events: unix.POLLIN}}
	n, err := unix.Poll(fds[:], 0)
	return err == nil && n > 0 && fds[0].Revents&unix.POLLIN != 0
}
