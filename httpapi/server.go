package httpapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// Timeouts of the server. The API's requests and replies are small; the
// timeouts bound what a slow or idle client can hold.
const (
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 10 * time.Second
	writeTimeout      = 30 * time.Second
	idleTimeout       = 2 * time.Minute
	maxHeaderBytes    = 64 << 10
)

// Server is a running HTTP API listener.
type Server struct {
	srv  *http.Server
	addr net.Addr
	wg   sync.WaitGroup
	errc chan error
}

// Start binds addr (host:port; ":0" and "127.0.0.1:0" pick a port) and
// serves h on it. It returns once the socket is bound, or the bind error.
// logger gets the start-up line and net/http's own errors (default
// slog.Default()).
func Start(addr string, h http.Handler, logger *slog.Logger) (*Server, error) {
	if logger == nil {
		logger = slog.Default()
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("httpapi: listen %s: %w", addr, err)
	}
	s := &Server{
		srv: &http.Server{
			Handler:           h,
			ReadHeaderTimeout: readHeaderTimeout,
			ReadTimeout:       readTimeout,
			WriteTimeout:      writeTimeout,
			IdleTimeout:       idleTimeout,
			MaxHeaderBytes:    maxHeaderBytes,
			ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		},
		addr: ln.Addr(),
		errc: make(chan error, 1),
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.errc <- fmt.Errorf("httpapi: serve %s: %w", s.addr, err)
		}
	}()
	logger.Info("serving HTTP API", "addr", s.addr.String())
	return s, nil
}

// Addr returns the bound address.
func (s *Server) Addr() net.Addr { return s.addr }

// Err returns a channel that yields the serving loop's error, if it fails.
func (s *Server) Err() <-chan error { return s.errc }

// Shutdown stops accepting connections, lets the requests in flight finish
// until ctx ends (then closes their connections) and returns once the
// serving loop has stopped.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	if err != nil {
		s.srv.Close()
	}
	s.wg.Wait()
	return err
}
