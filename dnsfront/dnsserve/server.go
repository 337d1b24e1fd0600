package dnsserve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
	"github.com/poolnsd/poolnsd/internal/udpbatch"
)

// Handler is what a Server serves: the handler of TCP and TLS
// connections (behind miekg/dns's server) and, for each UDP socket, the
// answering of its loop's datagrams. *dnsfront.Handler is one.
type Handler interface {
	dns.Handler
	// NewLoop returns the answering of a new UDP loop on socket s.
	NewLoop(s *Socket) Loop
	// PrepareStream readies miekg/dns's server of a TCP or TLS listener
	// before it serves: its reader, accept and invalid-message functions
	// and TSIG provider.
	PrepareStream(ds *dns.Server)
}

// Config configures a Server. Zero values have defaults.
type Config struct {
	// Listen are the addresses (host:port) to serve on, UDP and TCP each.
	Listen []string
	// UDPSockets is the number of SO_REUSEPORT UDP sockets per address
	// (default GOMAXPROCS).
	UDPSockets int
	// UDPSize is the largest UDP reply the handler writes, in bytes
	// (default and least 512): the size of the loops' reply buffers.
	UDPSize int
	// UDPPoller has the UDP loops wait for datagrams in Go's network
	// poller, as goroutines, instead of in their recvmmsg, a thread and a
	// P each (threads.go).
	UDPPoller bool
	// UDPNice, when negative, is added to the process's nice value for
	// the threads of the UDP loops that wait in their own recvmmsg (not
	// UDPPoller's): each loop locks its goroutine to its thread and runs
	// ahead of the rest of the process (nice.go). 0 leaves the threads
	// alone. A better nice needs CAP_SYS_NICE: without, one Info line.
	UDPNice int
	// Logger gets start-up and error lines (default slog.Default()).
	Logger *slog.Logger
	// TLS configures DNS over TLS (tls.go); off without TLS.Listen.
	TLS TLSConfig
	// Sojourn, if not nil, gets the sojourn of a sample of the UDP
	// queries answered in their loop's batch (udp.go).
	Sojourn Sojourner
}

// Sojourner records UDP queries' sojourns in the server: the time from
// the kernel's receipt of a query (SO_TIMESTAMPNS) to the write of its
// reply, the wait in the socket's queue included. The loops call it, one
// at a time each: it must not block or allocate.
type Sojourner interface {
	// Sample reports whether to record the next answered query's.
	Sample() bool
	// Sojourn records one.
	Sojourn(time.Duration)
}

// Server is a running DNS server: UDP and TCP servers on every listen
// address, and DNS over TLS on its own.
type Server struct {
	servers []*dns.Server // TCP and TLS, on miekg/dns's server
	udp     []*udpServer
	addrs   []net.Addr
	wg      sync.WaitGroup
	errc    chan error
	log     *slog.Logger
	tls     *tlsFront // DNS over TLS (tls.go), nil without it

	niceLogged atomic.Bool // a loop logged that UDPNice could not be set
}

// Start binds every listen address (UDP and TCP) and serves h on them. It
// returns once all sockets are bound, or the first bind error.
func Start(cfg Config, h Handler) (*Server, error) {
	if len(cfg.Listen) == 0 {
		return nil, errors.New("dnsserve: no listen address")
	}
	if cfg.UDPSockets <= 0 {
		cfg.UDPSockets = runtime.GOMAXPROCS(0)
	}
	cfg.UDPSize = max(cfg.UDPSize, dns.MinMsgSize)
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Server{errc: make(chan error, 1), log: cfg.Logger}
	lc := net.ListenConfig{Control: reusePort}
	ulc := net.ListenConfig{Control: udpControl}
	for _, addr := range cfg.Listen {
		tl, err := lc.Listen(context.Background(), "tcp", addr)
		if err != nil {
			s.Shutdown(context.Background())
			return nil, fmt.Errorf("dnsserve: listen tcp %s: %w", addr, err)
		}
		// The UDP sockets bind to the port the TCP listener got, so that
		// ":0" gives one port for both.
		bound := tl.Addr().String()
		s.addrs = append(s.addrs, tl.Addr())
		s.serve(&dns.Server{Listener: tl, Handler: h, MaxTCPQueries: -1}, h)
		for i := 0; i < cfg.UDPSockets; i++ {
			pc, err := ulc.ListenPacket(context.Background(), "udp", bound)
			if err != nil {
				s.Shutdown(context.Background())
				return nil, fmt.Errorf("dnsserve: listen udp %s: %w", bound, err)
			}
			setRecvBuffer(pc, 8<<20)
			u, err := newUDPServer(h, pc.(*net.UDPConn), cfg.UDPSize, cfg.UDPPoller, cfg.Logger)
			if err != nil {
				pc.Close()
				s.Shutdown(context.Background())
				return nil, fmt.Errorf("dnsserve: udp %s: %w", bound, err)
			}
			u.nice, u.niceLogged = min(cfg.UDPNice, 0), &s.niceLogged
			if cfg.Sojourn != nil {
				if err := u.bc.Stamp(); err != nil {
					cfg.Logger.Debug("no sojourn times: the kernel gives no time of receipt", "err", err)
				} else {
					u.sojourn = cfg.Sojourn
				}
			}
			s.serveUDP(u)
		}
		wait := "thread"
		if cfg.UDPPoller {
			wait = "poller"
		}
		cfg.Logger.Info("serving DNS", "addr", bound, "udp_sockets", cfg.UDPSockets, "udp_wait", wait)
	}
	if err := s.startTLS(cfg.TLS, h); err != nil {
		s.Shutdown(context.Background())
		return nil, err
	}
	return s, nil
}

// serve serves a stream listener (TCP or TLS) on miekg/dns's server, made
// ready by h.
func (s *Server) serve(ds *dns.Server, h Handler) {
	h.PrepareStream(ds)
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
		t.EmptyReads += st.EmptyReads
	}
	return t
}

// Addrs returns the bound addresses, one per listen address (UDP and TCP
// share the port).
func (s *Server) Addrs() []net.Addr { return s.addrs }

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
