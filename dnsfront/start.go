package dnsfront

import (
	"log/slog"
	"time"

	"github.com/poolnsd/poolnsd/dnsfront/dnsserve"
	"github.com/poolnsd/poolnsd/dnsfront/tsigkey"
	"github.com/poolnsd/poolnsd/handlespace"
	metrics "github.com/poolnsd/poolnsd/metrics/dnsmetrics" // the DNS counters only: see internal/walls
)

// Source gives the current handlespace view. *handlespace.Handlespace is one.
type Source interface {
	View() *handlespace.View
}

var _ Source = (*handlespace.Handlespace)(nil)

// Config configures the DNS front. Zero values have defaults.
type Config struct {
	// Listen are the addresses (host:port) to serve on, UDP and TCP each.
	Listen []string
	// UDPSize is the largest UDP reply this server sends to an EDNS client,
	// in bytes (default 1232, the DNS flag day 2020 figure). Clients
	// without EDNS get 512.
	UDPSize int
	// UDPSockets is the number of SO_REUSEPORT UDP sockets per address
	// (default GOMAXPROCS).
	UDPSockets int
	// UDPPoller has the UDP loops wait in Go's network poller, not in a
	// thread each (dnsserve.Config.UDPPoller).
	UDPPoller bool
	// UDPNice is added to the process's nice for the threaded UDP loops'
	// threads, -20..0 (dnsserve.Config.UDPNice).
	UDPNice int
	// UDPSojourn has the UDP loops time their queries from the kernel's
	// receipt (dnsserve.Config.Sojourn) into Metrics.
	UDPSojourn bool
	// Logger gets start-up and error lines (default slog.Default()).
	Logger *slog.Logger
	// Metrics gets the query counters and latencies (nil: none).
	Metrics *metrics.DNS
	// Answers, when set, counts each pool answer and its first element
	// (the status page's history).
	Answers Tally
	// QueryLog logs one line per query at info level (off by default;
	// Handler.SetQueryLog changes it while serving).
	QueryLog bool
	// Sites maps clients to sites for the nearest policy (nil: none;
	// Handler.SetSites changes it while serving).
	Sites SiteFinder
	// Protect are the per-query protections: query ACL, DNS Cookies,
	// response rate limiting, NSID and the CHAOS identity (nil: none;
	// Handler.SetProtections changes them while serving).
	Protect *Protections

	// Updates applies DNS UPDATE registrations (see update.go); nil
	// answers UPDATE with NOTIMP.
	Updates Updater
	// TSIG are the keys that may sign updates. Unsigned updates are
	// refused.
	TSIG []Key
	// Pacer, when set, has the UDP loops grant the registrar's turns
	// between their batches (pace.go; the registrar's Pacer).
	Pacer Pacer
	// UpdateTimeout bounds how long an update waits for its commit
	// (default 10 s); then it gets SERVFAIL.
	UpdateTimeout time.Duration

	// Signer signs the answers of signed zones to queries with the DO bit
	// (answer_dnssec.go); nil: no zone is signed.
	Signer Signer

	// TLS configures DNS over TLS (package dnsserve); off without
	// TLS.Listen.
	TLS dnsserve.TLSConfig

	// Current, if set, says whether the view may be answered from: while
	// it returns false (a registrar that has just resumed from a stop, or
	// healed from a minority, and has not synced with its peers yet),
	// queries get SERVFAIL with Extended DNS Error 14, Not Ready (ready.go),
	// and resolvers ask another registrar; updates go on. It is called
	// for every query: it must be cheap and safe for concurrent use.
	Current func() bool
}

// Server is a running DNS front: package dnsserve's server (UDP, TCP and
// TLS listeners) serving a Handler.
type Server struct {
	*dnsserve.Server
	handler *Handler
}

// Start binds every listen address (UDP and TCP) and serves src on them. It
// returns once all sockets are bound, or the first bind error.
func Start(cfg Config, src Source) (*Server, error) {
	if _, err := tsigkey.New(cfg.TSIG); err != nil {
		return nil, err
	}
	h := NewHandler(src, cfg)
	scfg := dnsserve.Config{Listen: cfg.Listen, UDPSockets: cfg.UDPSockets, UDPPoller: cfg.UDPPoller, UDPNice: cfg.UDPNice, UDPSize: h.udpSize,
		Logger: h.log, TLS: cfg.TLS}
	if cfg.UDPSojourn && h.metrics != nil {
		scfg.Sojourn = h.metrics
	}
	s, err := dnsserve.Start(scfg, h)
	if err != nil {
		return nil, err
	}
	return &Server{Server: s, handler: h}, nil
}

// Handler returns the server's DNS handler.
func (s *Server) Handler() *Handler { return s.handler }
