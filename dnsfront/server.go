package dnsfront

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"sync"
	"time"

	"github.com/miekg/dns"
	"github.com/poolnsd/poolnsd/dnsfront/tsigkey"
	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/internal/udpbatch"
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
	// UpdateTimeout bounds how long an update waits for its commit
	// (default 10 s); then it gets SERVFAIL.
	UpdateTimeout time.Duration

	// Signer signs the answers of signed zones to queries with the DO bit
	// (answer_dnssec.go); nil: no zone is signed.
	Signer Signer

	// TLS configures DNS over TLS (tls.go); off without TLS.Listen.
	TLS TLSConfig

	// Current, if set, says whether the view may be answered from: while
	// it returns false (a registrar that has just resumed from a stop, or
	// healed from a minority, and has not synced with its peers yet),
	// queries get SERVFAIL with Extended DNS Error 14, Not Ready (ready.go),
	// and resolvers ask another registrar; updates go on. It is called
	// for every query: it must be cheap and safe for concurrent use.
	Current func() bool
}

// Server is a running DNS front: UDP and TCP servers on every listen address.
type Server struct {
	servers []*dns.Server // TCP, on miekg/dns's server
	udp     []*udpServer
	addrs   []net.Addr
	handler *Handler
	wg      sync.WaitGroup
	errc    chan error
	tls     *tlsFront // DNS over TLS (tls.go), nil without it
}

// Start binds every listen address (UDP and TCP) and serves src on them. It
// returns once all sockets are bound, or the first bind error.
func Start(cfg Config, src Source) (*Server, error) {
	if len(cfg.Listen) == 0 {
		return nil, errors.New("dnsfront: no listen address")
	}
	if cfg.UDPSockets <= 0 {
		cfg.UDPSockets = runtime.GOMAXPROCS(0)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if _, err := tsigkey.New(cfg.TSIG); err != nil {
		return nil, err
	}
	h := NewHandler(src, cfg)
	s := &Server{handler: h, errc: make(chan error, 1)}
	checked := func(r dns.Reader) dns.Reader { return &checkingReader{Reader: r, h: h} }
	invalid := func([]byte, error) {
		// Unreachable: checkingReader hands on only messages that unpack.
		h.log.Error("internal error: a checked message did not unpack")
	}
	lc := net.ListenConfig{Control: reusePort}
	for _, addr := range cfg.Listen {
		tl, err := lc.Listen(context.Background(), "tcp", addr)
		if err != nil {
			s.Shutdown(context.Background())
			return nil, fmt.Errorf("dnsfront: listen tcp %s: %w", addr, err)
		}
		// The UDP sockets bind to the port the TCP listener got, so that
		// ":0" gives one port for both.
		bound := tl.Addr().String()
		s.addrs = append(s.addrs, tl.Addr())
		s.serve(&dns.Server{Listener: tl, Handler: h, DecorateReader: checked, MsgAcceptFunc: acceptMsg, MsgInvalidFunc: invalid, MaxTCPQueries: -1, TsigProvider: h.keys})
		for i := 0; i < cfg.UDPSockets; i++ {
			pc, err := lc.ListenPacket(context.Background(), "udp", bound)
			if err != nil {
				s.Shutdown(context.Background())
				return nil, fmt.Errorf("dnsfront: listen udp %s: %w", bound, err)
			}
			setRecvBuffer(pc, 8<<20)
			u, err := newUDPServer(h, pc.(*net.UDPConn))
			if err != nil {
				pc.Close()
				s.Shutdown(context.Background())
				return nil, fmt.Errorf("dnsfront: udp %s: %w", bound, err)
			}
			s.serveUDP(u)
		}
		cfg.Logger.Info("serving DNS", "addr", bound, "udp_sockets", cfg.UDPSockets)
	}
	if err := s.startTLS(cfg.TLS, h, checked, invalid); err != nil {
		s.Shutdown(context.Background())
		return nil, err
	}
	return s, nil
}

func (s *Server) serve(ds *dns.Server) {
	started := make(chan struct{})
	ds.NotifyStartedFunc = func() { close(started) }
	s.servers = append(s.servers, ds)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := ds.ActivateAndServe(); err != nil {
			select {
			case s.errc <- err:
			default:
			}
		}
	}()
	select {
	case <-started:
	case <-time.After(5 * time.Second):
	}
}

func (s *Server) serveUDP(u *udpServer) {
	s.udp = append(s.udp, u)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := u.run(); err != nil {
			select {
			case s.errc <- err:
			default:
			}
		}
	}()
}

// UDPStats returns the UDP loops' counts of system calls and datagrams.
func (s *Server) UDPStats() udpbatch.Stats {
	var t udpbatch.Stats
	for _, u := range s.udp {
		st := u.bc.Stats()
		t.ReadCalls += st.ReadCalls
		t.ReadMsgs += st.ReadMsgs
		t.WriteCalls += st.WriteCalls
		t.WriteMsgs += st.WriteMsgs
	}
	return t
}

// ColdStats returns the UDP loops' counts of the answers they signed
// after their batch (coldsign.go).
func (s *Server) ColdStats() ColdStats {
	var st ColdStats
	for _, u := range s.udp {
		u.s.cold.stats(&st)
	}
	return st
}

// Addrs returns the bound addresses, one per listen address (UDP and TCP
// share the port).
func (s *Server) Addrs() []net.Addr { return s.addrs }

// Handler returns the server's DNS handler.
func (s *Server) Handler() *Handler { return s.handler }

// Err returns a channel that yields the first error of a serving loop.
func (s *Server) Err() <-chan error { return s.errc }

// Shutdown stops taking queries, lets the ones in flight finish until ctx
// ends, and closes the sockets.
func (s *Server) Shutdown(ctx context.Context) error {
	var first error
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(time.Minute)
	}
	var stopped sync.WaitGroup
	for _, u := range s.udp {
		stopped.Add(1)
		go func() { defer stopped.Done(); u.stop(deadline) }()
	}
	for _, ds := range s.servers {
		if err := ds.ShutdownContext(ctx); err != nil && first == nil {
			first = err
		}
	}
	stopped.Wait()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		if first == nil {
			first = ctx.Err()
		}
	}
	return first
}

// maxUDPQuery is the largest UDP query read whole (the read buffer of the
// UDP servers): queries, even signed updates, are far smaller; a larger
// buffer would only cost memory per query in flight.
const maxUDPQuery = dns.DefaultMsgSize
