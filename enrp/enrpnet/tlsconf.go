package enrpnet

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
)

// TLSFiles name the PEM files of a registrar's TLS identity and of the
// certificate authority that vouches for its peers.
type TLSFiles struct {
	Cert string // this registrar's certificate (chain), PEM
	Key  string // its private key, PEM
	CA   string // the CA certificate(s) that peers' certificates must chain to, PEM
	// PostQuantum offers the hybrid X25519MLKEM768 key exchange beside
	// X25519. Without it a dialler offers X25519 alone: its ClientHello
	// (about 230 bytes) then rides in a TCP Fast Open SYN, and a new
	// connection is ready in one round trip; X25519MLKEM768's key share
	// makes it 1.5 KB, more than a SYN carries (1 420 bytes at an MTU of
	// 1 500), and the rest waits a round trip for the SYN-ACK. A
	// listener takes a key exchange the dialler sent a share for:
	// registrars that differ in this agree on X25519.
	PostQuantum bool
}

// LoadTLS reads the files and returns the TLS configuration of peering:
// TLS 1.3 only, this registrar's certificate on both sides of a
// connection, and a peer's certificate required and verified against the
// CA on both sides (mutual authentication). A dialler also checks that the
// peer's certificate names the address it dialled (DNS name or IP
// address). The key exchange is X25519 unless f.PostQuantum. Errors
// name the file.
func LoadTLS(f TLSFiles) (*tls.Config, error) {
	if f.Cert == "" || f.Key == "" || f.CA == "" {
		return nil, errors.New("enrp: TLS needs a certificate, a key and a CA file")
	}
	cert, err := tls.LoadX509KeyPair(f.Cert, f.Key)
	if err != nil {
		return nil, fmt.Errorf("%s, %s: %v", f.Cert, f.Key, err)
	}
	pem, err := os.ReadFile(f.CA)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", f.CA, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s: no PEM certificate in it", f.CA)
	}
	groups := []tls.CurveID{tls.X25519}
	if f.PostQuantum {
		groups = []tls.CurveID{tls.X25519MLKEM768, tls.X25519}
	}
	return &tls.Config{
		MinVersion:       tls.VersionTLS13,
		CurvePreferences: groups,
		Certificates:     []tls.Certificate{cert},
		ClientAuth:       tls.RequireAndVerifyClientCert,
		ClientCAs:        pool,
		RootCAs:          pool,
	}, nil
}
