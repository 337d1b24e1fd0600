package config

import (
	"encoding/base64"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/miekg/dns"
)

// TSIGKey is one item of the "tsig" list: a key that may sign DNS UPDATEs
// (RFC 8945). The list is read from the config file only: a secret on a
// command line or in the environment is visible to other users.
type TSIGKey struct {
	// Name is the key's name, a domain name ("pe-key.").
	Name string `mapstructure:"name"`
	// Algorithm is hmac-sha256 or hmac-sha512.
	Algorithm string `mapstructure:"algorithm"`
	// Secret is the shared secret in base64, as tsig-keygen and
	// ddns-confgen print it.
	Secret string `mapstructure:"secret"`
	// Pools limits the key to these pools: handles ("web") or pool names
	// ("web.pool.example."). Empty: every pool.
	Pools []string `mapstructure:"pools"`
}

// TSIGKeyDoc documents the "tsig" list in poolnsd config's output.
const TSIGKeyDoc = "keys that may sign DNS UPDATEs, a list of {name, algorithm (hmac-sha256 or hmac-sha512), secret (base64), pools (handles or pool names; empty: every pool)}; config file only"

// minSecret is the shortest secret accepted, in bytes (RFC 8945 §6
// recommends keys as long as the hash output; tsig-keygen makes 32 bytes
// for hmac-sha256).
const minSecret = 16

var tsigFields = []string{"name", "algorithm", "secret", "pools"}

// decodeTSIG reads the "tsig" list of a config file. Its errors name the
// item and field: tsig[0].secret.
func decodeTSIG(file string, raw any) ([]TSIGKey, error) {
	if raw == nil {
		return nil, nil
	}
	items, ok := raw.([]any)
	if !ok {
		return nil, fmt.Errorf("%s: tsig: want a list of keys ({name, algorithm, secret, pools}), not %s", file, show(raw))
	}
	var errs []error
	out := make([]TSIGKey, 0, len(items))
	for i, it := range items {
		at := fmt.Sprintf("tsig[%d]", i)
		m, ok := it.(map[string]any)
		if !ok {
			errs = append(errs, fmt.Errorf("%s: %s: want a key {name, algorithm, secret, pools}, not %s", file, at, show(it)))
			continue
		}
		var k TSIGKey
		keys := make([]string, 0, len(m))
		for f := range m {
			keys = append(keys, f)
		}
		sort.Strings(keys)
		for _, f := range keys {
			v := m[f]
			switch f {
			case "name", "algorithm", "secret":
				s, ok := v.(string)
				if !ok {
					errs = append(errs, fmt.Errorf("%s: %s.%s: want a string, not %s", file, at, f, show(v)))
					continue
				}
				switch f {
				case "name":
					k.Name = s
				case "algorithm":
					k.Algorithm = s
				default:
					k.Secret = s
				}
			case "pools":
				list, err := decodeValue(Option{Default: []string{}}, v)
				if err != nil {
					errs = append(errs, fmt.Errorf("%s: %s.pools: %v", file, at, err))
					continue
				}
				k.Pools = list.([]string)
			default:
				msg := fmt.Sprintf("%s: unknown key %q in %s; want %s", file, f, at, strings.Join(tsigFields, ", "))
				if s := suggest(f, tsigFields); s != "" {
					msg += fmt.Sprintf(" (did you mean %q?)", s)
				}
				errs = append(errs, errors.New(msg))
			}
		}
		out = append(out, k)
	}
	return out, errors.Join(errs...)
}

// TSIGAlgorithm returns the key's algorithm as miekg/dns names it
// ("hmac-sha256."); Validate checked it.
func (k TSIGKey) TSIGAlgorithm() string { return strings.ToLower(dns.Fqdn(k.Algorithm)) }

// SecretBytes returns the decoded secret; Validate checked it.
func (k TSIGKey) SecretBytes() []byte {
	b, _ := base64.StdEncoding.DecodeString(strings.TrimSpace(k.Secret))
	return b
}

// validateTSIG checks the keys, reporting through bad with the key path.
func validateTSIG(keys []TSIGKey, bad func(key, format string, a ...any)) {
	seen := map[string]int{}
	for i, k := range keys {
		at := fmt.Sprintf("tsig[%d]", i)
		name := strings.ToLower(dns.Fqdn(k.Name))
		switch _, ok := dns.IsDomainName(k.Name); {
		case k.Name == "":
			bad(at+".name", "missing; want the key's name, e.g. pe-key.")
		case !ok || name == ".":
			bad(at+".name", "%q is not a domain name", k.Name)
		default:
			if j, dup := seen[name]; dup {
				bad(at+".name", "%q is already the name of tsig[%d]", k.Name, j)
			}
			seen[name] = i
		}
		switch k.TSIGAlgorithm() {
		case dns.HmacSHA256, dns.HmacSHA512:
		default:
			if k.Algorithm == "" {
				bad(at+".algorithm", "missing; want hmac-sha256 or hmac-sha512")
			} else {
				bad(at+".algorithm", "unsupported algorithm %q; want hmac-sha256 or hmac-sha512", k.Algorithm)
			}
		}
		if strings.TrimSpace(k.Secret) == "" {
			bad(at+".secret", "missing; want the shared secret in base64 (tsig-keygen prints one)")
		} else if b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(k.Secret)); err != nil {
			bad(at+".secret", "not base64: %v", err)
		} else if len(b) < minSecret {
			bad(at+".secret", "%d bytes; want at least %d (tsig-keygen makes 32)", len(b), minSecret)
		}
		for j, p := range k.Pools {
			if p == "" || strings.Contains(strings.TrimSuffix(p, "."), "..") {
				bad(fmt.Sprintf("%s.pools[%d]", at, j), "%q is not a pool handle or name", p)
			} else if _, ok := dns.IsDomainName(p); !ok {
				bad(fmt.Sprintf("%s.pools[%d]", at, j), "%q is not a pool handle or name", p)
			}
		}
	}
}
