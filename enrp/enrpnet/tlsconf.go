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
}

// LoadTLS reads the files and returns the TLS configuration of peering:
// TLS 1.3 only, this registrar's certificate on both sides of a
// connection, and a peer's certificate required and verified against the
// CA on both sides (mutual authentication). A dialler also checks that the
// peer's certificate names the address it dialled (DNS name or IP
// address). Errors name the file.
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
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{cert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pool,
		RootCAs:      pool,
	}, nil
}
