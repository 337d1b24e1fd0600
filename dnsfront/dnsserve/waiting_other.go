//go:build !unix

package dnsserve

// Waiting cannot tell here: it says yes, so that a Loop's work between
// batches does one step a batch.
func (s *Socket) Waiting() bool { return true }
