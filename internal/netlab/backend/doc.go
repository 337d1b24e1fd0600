// Package backend is the pool elements' servers of netlab's lab: one
// small HTTP server per backend node, each address of the node one
// element. netlab's lab process runs them; tests drive them through
// netlab.Backends.
//
// # Basics
//
// New returns a Server; Serve serves a listener on 0.0.0.0 in a backend
// node's namespace (the caller opens it there), so that it answers on every
// address of the node's block. Every request (a probe) is recorded with
// its time and the prober's address. Set makes an element Alive (200
// "ok"), Dead (its connections are reset: a probe fails at once) or
// Frozen (requests hang until it is revived: a probe times out). Probes,
// ProbedBy, Takeover and MaxProbeGap answer from the records.
//
// # Caveats
//
//   - The records grow for as long as the Server runs: a lab lasts
//     minutes, not days.
//   - Close revives frozen elements, so that their hanging requests end.
package backend
