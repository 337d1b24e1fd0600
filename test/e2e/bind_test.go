package e2e

import (
	"fmt"
	"net"
	"strings"
	"testing"
)

// TestBindErrorNamesTheKey: when the DNS or HTTP address is taken, serve
// exits 3 with an error whose hint names the flag, the config key and the
// environment variable that choose another.
func TestBindErrorNamesTheKey(t *testing.T) {
	t.Parallel()
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { taken.Close() })
	for _, tc := range []struct {
		key, flag, msg string
		more           []string
	}{
		{"dns.listen", "--dns.listen", "cannot serve DNS", nil},
		{"http.listen", "--http.listen", "cannot serve HTTP", nil},
		{"enrp.listen", "--enrp.listen", "cannot start peering", []string{"--enrp.insecure"}},
	} {
		t.Run(tc.key, func(t *testing.T) {
			dir := daemonDir(t, goodZone)
			p := startDaemon(t, dir, append([]string{tc.flag, taken.Addr().String()}, tc.more...)...)
			r, _ := p.waitLog(0, "the bind error", msgIs(tc.msg))
			if !strings.Contains(r.Str("err"), "address already in use") {
				t.Errorf("err %q: not the bind error", r.Str("err"))
			}
			env := "POOLNSD_" + strings.ToUpper(strings.ReplaceAll(tc.key, ".", "_"))
			want := fmt.Sprintf("another program has this address; choose another with %s (%s in poolnsd.yaml, %s)", tc.flag, tc.key, env)
			if r.Str("hint") != want {
				t.Errorf("hint %q, want %q", r.Str("hint"), want)
			}
			if code := p.waitExit(waitLimit); code != exitRuntime {
				t.Errorf("exit %d, want %d", code, exitRuntime)
			}
		})
	}
}
