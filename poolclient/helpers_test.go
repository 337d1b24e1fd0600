package poolclient_test

import (
	"context"
	"encoding/base64"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/poolnsd/poolnsd/dnsfront"
	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/internal/hstest"
	"github.com/poolnsd/poolnsd/regcommit"
	"github.com/poolnsd/poolnsd/store"
)

// A registrar in the test process: the handlespace, a bbolt store, the
// registrar and the DNS front on a loopback port, as poolnsd wires them.

var testSecret = []byte("poolclient-test-secret-32-bytes!")

var testKey = struct{ Name, Secret string }{"pe-key.", base64.StdEncoding.EncodeToString(testSecret)}

const testZone = `pool.example. 300 IN SOA ns1.pool.example. hostmaster.pool.example. 1 3600 600 86400 5
pool.example. 300 IN NS ns1.pool.example.
ns1.pool.example. 300 IN A 192.0.2.53
`

// server is a running registrar.
type server struct {
	addr string
	hs   *handlespace.Handlespace
	// submits gets a value after each update the registrar answered.
	submits chan struct{}
}

// countingUpdater signals each answered update.
type countingUpdater struct {
	*regcommit.Committer
	c chan struct{}
}

func (u countingUpdater) Submit(ctx context.Context, req *regcommit.Request) (regcommit.Result, error) {
	res, err := u.Committer.Submit(ctx, req)
	select {
	case u.c <- struct{}{}:
	default:
	}
	return res, err
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// startServer starts a registrar for zone pool.example. with the test key.
func startServer(t testing.TB, cfg regcommit.Config) *server {
	t.Helper()
	hs := handlespace.New(handlespace.Options{RegistrarID: 1})
	rrs := hstest.RRs(t, testZone)
	if err := hs.ApplyZones([]handlespace.ZoneDef{{Origin: "pool.example.", File: "test", Records: rrs}}); err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Logger == nil {
		cfg.Logger = quiet()
	}
	cfg.AllowLoopback = true // the elements are test listeners on loopback
	reg := regcommit.New(hs, st, cfg)
	s := &server{hs: hs, submits: make(chan struct{}, 64)}
	srv, err := dnsfront.Start(dnsfront.Config{Listen: []string{"127.0.0.1:0"}, UDPSockets: 1, Logger: quiet(),
		Updates: countingUpdater{reg, s.submits},
		TSIG:    []dnsfront.Key{{Name: testKey.Name, Algorithm: dns.HmacSHA256, Secret: testSecret}}}, hs)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		reg.Close()
		st.Close()
	})
	s.addr = srv.Addrs()[0].String()
	return s
}

// element returns the registered element label of pool, or nil.
func (s *server) element(pool, label string) *handlespace.Element {
	pv := s.hs.View().Zone("pool.example.").Pool(pool)
	if pv == nil {
		return nil
	}
	return pv.Label(label)
}

// waitSubmits waits for n answered updates.
func (s *server) waitSubmits(t testing.TB, n int) {
	t.Helper()
	deadline := time.NewTimer(15 * time.Second)
	defer deadline.Stop()
	for i := 0; i < n; i++ {
		select {
		case <-s.submits:
		case <-deadline.C:
			t.Fatalf("%d of %d updates within 15 s", i, n)
		}
	}
}

// backend is an HTTP server on loopback that answers its name.
type backend struct {
	name string
	ln   net.Listener
	srv  *http.Server
}

func startBackend(t testing.TB, name string) *backend {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &backend{name: name, ln: ln, srv: &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, name)
	})}}
	go b.srv.Serve(ln)
	t.Cleanup(b.stop)
	return b
}

func (b *backend) port() uint16 { return uint16(b.ln.Addr().(*net.TCPAddr).Port) }

// stop closes the backend: its port refuses connections from then on.
func (b *backend) stop() { b.srv.Close() }
