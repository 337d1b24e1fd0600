// Package dnsserve is the DNS front's serving machinery: it binds the
// listeners and moves the bytes of queries and replies, and leaves what a
// query means, and how it is answered, to a Handler (package dnsfront's).
//
// # Basics
//
// Start binds every listen address, TCP and UDP on one port, and DNS over
// TLS on addresses of its own, and serves a Handler on them until
// Shutdown:
//
//   - server.go: TCP and TLS connections go to the Handler's ServeDNS
//     through miekg/dns's server, which the Handler readies first
//     (PrepareStream: the reader that checks each message before the
//     server sees it, the accept function, the TSIG provider).
//   - udp.go: each address has several UDP sockets (SO_REUSEPORT,
//     sockopt_linux.go; default one per core), each served by a loop of
//     its own, one goroutine: it reads a batch of datagrams with one
//     system call (recvmmsg, package internal/udpbatch), has the socket's
//     Loop (Handler.NewLoop) answer each into a buffer of its own, and
//     sends the batch's replies with one more (sendmmsg). A Loop is used
//     by its loop's goroutine only, so it may keep working memory without
//     a lock. Between batches (Loop.Sent, and Idler.Idle while the loop,
//     reading without waiting, finds no datagram) a Loop may do work of
//     its own, a piece at a time (package dnsfront signs there the
//     answers that need a new signature; it grants the registrar's
//     turns), sending its replies with Socket.WriteBatch. Work that
//     another goroutine queues for a Loop wakes its loop with
//     Socket.Wake.
//   - threads.go, nice.go: a loop that waits in its own recvmmsg holds a
//     thread and a P (GOMAXPROCS raised for it, but under a real-time
//     policy or in a quiet second); with Config.UDPNice it locks its
//     goroutine to that thread for good and runs the thread at a better
//     nice than the rest of the process.
//   - tls.go: DNS over TLS (RFC 7858) serves the same Handler as TCP
//     behind a tls.Listener whose certificate ReloadTLS swaps atomically.
//
// # Caveats
//
//   - A panic while a Loop answers a datagram (a defect) costs the loop
//     that datagram only: the Loop's Recover answers it and the loop goes
//     on with the rest of the batch. One deferred call per batch, not per
//     datagram, keeps this off the per-query cost.
//   - Shutdown stops the loops, then calls each Loop's Close, which may
//     wait (until the context's deadline) for work the Loop left running,
//     such as an UPDATE whose reply is written later, straight to the
//     socket: the socket is closed only after it.
//   - A reply larger than four times Config.UDPSize (one packed past its
//     buffer) does not keep its buffer's memory: the slot gets a new one.
package dnsserve
