//go:build !unix

package dnsfront

// waiting cannot tell here: the loop signs one queued answer a batch, and
// the rest while it has no datagram to read.
func (q *coldQueue) waiting() bool { return q.n > 0 }
