// Package udpbatch reads and writes UDP datagrams in batches: on Linux one
// recvmmsg(2) or sendmmsg(2) system call moves up to a batch of them, and
// nothing is allocated per datagram (source addresses stay in their raw
// socket form until asked for). Elsewhere, and where the kernel refuses
// recvmmsg, it moves one datagram per call with the net package.
//
// # Basics
//
// New wraps a bound *net.UDPConn. ReadBatch blocks (in Go's network poller,
// so deadlines and Close wake it) until at least one datagram has come, then
// takes as many as are queued, up to len(ms), without waiting for more.
// WriteBatch sends every message given, each to its Addr. A reply is written
// from the same Msg slot shape as a query is read: set Buf to the reply and
// keep Addr (and OOB: the destination address a socket bound to a wildcard
// address received, so that the reply leaves from it).
//
// # Caveats
//
//   - A Conn is for one goroutine: ReadBatch and WriteBatch reuse buffers
//     that the Conn owns.
//   - On Linux recvmmsg and sendmmsg are raw system calls, which the Go
//     scheduler is not told of: they never block (MSG_DONTWAIT; waiting is
//     the network poller's), and a call the scheduler knows of costs a busy
//     loop hand-offs of its P and wake-ups of the runtime's threads. A
//     reader that keeps finding full batches yields its P before each next
//     read (runtime.Gosched), so that other goroutines still run.
//   - A socket bound to an unspecified address (0.0.0.0, ::) asks the
//     kernel for each datagram's destination address (IP_PKTINFO,
//     IPV6_RECVPKTINFO) so that replies leave from the address the client
//     asked; OOB must then have room for it (OOBSize).
package udpbatch
