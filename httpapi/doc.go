// Package httpapi is poolnsd's JSON HTTP API: the pools and their elements
// as the handlespace holds them, pool users' failure reports, and the
// operator's administrative states.
//
// # Basics
//
// NewHandler serves a Backend (the handlespace view, the last probe results,
// failure reports and administrative states) under these routes:
//
//	GET  /healthz                                 liveness: {"status":"ok"}
//	GET  /v1/pools                                every pool, with counts
//	GET  /v1/pools/{pool}                         one pool with every element
//	GET  /v1/status                               every pool with every element
//	GET  /v1/history                              series and health timelines (Config.History)
//	GET  /v1/peers                                the cluster's registrars and peering events
//	POST /v1/pools/{pool}/reports                 a failure report (RFC 5352 ENDPOINT_UNREACHABLE)
//	PUT  /v1/pools/{pool}/elements/{pe}/admin     set drain, force-down or auto
//
// and, when Config.Registrar is set, the registration endpoints (see
// register.go):
//
//	PUT    /v1/pools/{pool}/elements/{pe}         register, update or refresh an element
//	DELETE /v1/pools/{pool}/elements/{pe}         deregister it
//
// {pool} is a pool's name (web.pool.example, with or without the final dot,
// any case) or its bare handle (web) when exactly one zone has a pool with
// that handle. {pe} is an element's identifier (8 hex digits) or its label,
// the first label of its own name. Every reply is JSON; errors are
// {"error": "…"} with the status that fits. Start listens and serves with
// timeouts that suit an API on loopback or a management network.
//
// # Caveats
//
// Write endpoints need "Authorization: Bearer TOKEN" with the configured
// token; without a configured token they are refused (403), so an API
// left at its defaults cannot be used to drain a pool. The failure-report
// endpoint also takes a report-only token (Config.ReportToken), which no
// other endpoint takes, and needs no token at all from the clients of
// Config.ReportAllow: pool users report without the credential that can
// drain. Tokens are compared in constant time. There is no TLS here: put the API on loopback or behind
// a proxy that terminates TLS. The client address that failure reports are
// rate-limited by is the connection's peer: behind a proxy every report
// comes from the proxy (X-Forwarded-For is not trusted).
package httpapi
