package cookie

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// SecretFile is the file in the data directory that keeps the generated
// secret when the configuration sets none: 32 hex digits and a newline,
// mode 0600.
const SecretFile = "cookie_secret"

// LoadSecrets returns the secrets of the configuration: current and
// previous are dns.cookie_secret and dns.cookie_secret_previous (hex, ""
// if unset). Without a current secret it reads SecretFile in dataDir, and
// if there is none it makes a random one and writes it there (creating
// dataDir), so that a restart keeps accepting the cookies handed out
// before; generated says so. Errors name the key or the file.
func LoadSecrets(current, previous, dataDir string) (s Secrets, generated bool, err error) {
	if previous != "" {
		p, err := ParseSecret(previous)
		if err != nil {
			return Secrets{}, false, fmt.Errorf("dns.cookie_secret_previous: %v", trimPrefix(err))
		}
		s.Previous = &p
	}
	if current != "" {
		if s.Current, err = ParseSecret(current); err != nil {
			return Secrets{}, false, fmt.Errorf("dns.cookie_secret: %v", trimPrefix(err))
		}
		return s, false, nil
	}
	path := filepath.Join(dataDir, SecretFile)
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		if s.Current, err = ParseSecret(string(b)); err != nil {
			return Secrets{}, false, fmt.Errorf("%s: %v (delete the file to have a new secret made, or set dns.cookie_secret)", path, trimPrefix(err))
		}
		return s, false, nil
	case !errors.Is(err, fs.ErrNotExist):
		return Secrets{}, false, fmt.Errorf("cookie: %v", err)
	}
	if s.Current, err = NewSecret(); err != nil {
		return Secrets{}, false, err
	}
	if err := writeSecret(dataDir, path, s.Current); err != nil {
		return Secrets{}, false, err
	}
	return s, true, nil
}

// writeSecret writes sec to path (in dir) whole or not at all: a temporary
// file, synced, renamed over path.
func writeSecret(dir, path string, sec Secret) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("cookie: %v", err)
	}
	f, err := os.CreateTemp(dir, SecretFile+".tmp*")
	if err != nil {
		return fmt.Errorf("cookie: %v", err)
	}
	tmp := f.Name()
	err = f.Chmod(0o600)
	if err == nil {
		_, err = f.WriteString(sec.String() + "\n")
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("cookie: writing %s: %v", path, err)
	}
	return nil
}

// trimPrefix returns err's text without this package's "cookie: ".
func trimPrefix(err error) string {
	s := err.Error()
	const p = "cookie: "
	if len(s) > len(p) && s[:len(p)] == p {
		return s[len(p):]
	}
	return s
}
