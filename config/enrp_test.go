package config

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestENRPValidation(t *testing.T) {
	tlsArgs := []string{"--enrp.tls.cert=a.crt", "--enrp.tls.key=a.key", "--enrp.tls.ca=ca.crt"}
	for _, c := range []struct {
		name string
		args []string
		want []string // sorted
	}{
		{"peers without listen", []string{"--enrp.peers=127.0.0.2:9901"}, []string{
			`enrp.listen: empty, but enrp.peers names peers; set enrp.listen (e.g. "127.0.0.1:9901") to turn peering on`}},
		{"no TLS", []string{"--enrp.listen=127.0.0.1:9901"}, []string{
			"enrp.tls.ca: empty; peering needs TLS (enrp.tls.cert, enrp.tls.key, enrp.tls.ca) unless enrp.insecure is true",
			"enrp.tls.cert: empty; peering needs TLS (enrp.tls.cert, enrp.tls.key, enrp.tls.ca) unless enrp.insecure is true",
			"enrp.tls.key: empty; peering needs TLS (enrp.tls.cert, enrp.tls.key, enrp.tls.ca) unless enrp.insecure is true"}},
		{"bad listen", append([]string{"--enrp.listen=nowhere"}, tlsArgs...), []string{`enrp.listen: "nowhere" is not host:port`}},
		{"bad peer", append([]string{"--enrp.listen=:9901", "--enrp.peers=a:1,a:1,b:x"}, tlsArgs...), []string{
			`enrp.peers: "a:1" is listed twice`, `enrp.peers: "b:x" has a bad port "x", want 0..65535`}},
		{"bad advertise", append([]string{"--enrp.listen=:9901", "--enrp.advertise=host:9901"}, tlsArgs...), []string{
			`enrp.advertise: "host:9901" is not IP:port`}},
		{"durations", []string{"--enrp.presence_interval=often", "--enrp.max_time_no_response=0s"}, []string{
			"enrp.max_time_no_response: 0s is below 1ms", `enrp.presence_interval: "often" is not a duration, want e.g. 1s or 500ms`}},
		{"last heard not above interval", []string{"--enrp.presence_interval=3s"}, []string{
			"enrp.max_time_last_heard: 3s is not above enrp.presence_interval (3s)"}},
		{"page size", []string{"--enrp.page_size=0"}, []string{"enrp.page_size: 0 is outside 1..1000"}},
		{"hand-off and sync waits", []string{"--enrp.handoff_timeout=soon", "--enrp.sync_wait=2m"}, []string{
			`enrp.handoff_timeout: "soon" is not a duration, want e.g. 2s or 0s`, "enrp.sync_wait: 2m0s is outside 0s..1m"}},
		{"confirmation", []string{"--health.confirm=17", "--health.quorum=-1"}, []string{
			"health.confirm: 17 is outside 0..16", "health.quorum: -1 is outside 0..17"}},
		{"probe source", []string{"--probe.source=0.0.0.0"}, []string{`probe.source: "0.0.0.0" is not a unicast IP address of this host`}},
		{"probe source name", []string{"--probe.source=localhost"}, []string{`probe.source: "localhost" is not a unicast IP address`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := load(t, "", nil, c.args...)
			if err == nil {
				t.Fatal("no error")
			}
			got := strings.Split(err.Error(), "\n")
			slices.Sort(got)
			if len(got) != len(c.want) {
				t.Fatalf("errors\n got %q\nwant %q", got, c.want)
			}
			for i := range got {
				if !strings.HasPrefix(got[i], c.want[i]) {
					t.Errorf("error %d\n got %q\nwant %q", i, got[i], c.want[i])
				}
			}
		})
	}
}

func TestENRPFromFile(t *testing.T) {
	yaml := `enrp:
  listen: "127.0.0.1:9901"
  peers: ["127.0.0.2", "127.0.0.3:9902"]
  tls: {cert: a.crt, key: a.key, ca: ca.crt}
  presence_interval: 500ms
  max_time_last_heard: 2s
`
	c, _, err := load(t, yaml, nil)
	if err != nil {
		t.Fatal(err)
	}
	e := c.ENRP
	if !e.Enabled() || e.TLS != (ENRPTLS{Cert: "a.crt", Key: "a.key", CA: "ca.crt"}) || e.Insecure {
		t.Errorf("enrp = %+v", e)
	}
	if got := e.PeerAddrs(); !slices.Equal(got, []string{"127.0.0.2:9901", "127.0.0.3:9902"}) {
		t.Errorf("peers %q", got)
	}
	p, lh, nr := e.Durations()
	if p != 500*time.Millisecond || lh != 2*time.Second || nr != time.Second {
		t.Errorf("durations %v %v %v", p, lh, nr)
	}
	// A typo inside the section is an error naming the key.
	if _, _, err := load(t, "enrp:\n  tls:\n    certificate: x\n", nil); err == nil || !strings.Contains(err.Error(), `unknown key "enrp.tls.certificate"`) {
		t.Errorf("typo: %v", err)
	}
}

// TestVantageKeys: the keys of confirmation and hand-off as a file sets
// them, and their accessors.
func TestVantageKeys(t *testing.T) {
	yaml := `health:
  confirm: 3
  quorum: 2
probe:
  source: 127.0.0.9
enrp:
  handoff_timeout: 500ms
  sync_wait: 0s
`
	c, _, err := load(t, yaml, nil)
	if err != nil {
		t.Fatal(err)
	}
	handoff, sync := c.ENRP.Waits()
	if c.Health.Confirm != 3 || c.Health.Quorum != 2 || c.ProbeSource().String() != "127.0.0.9" || handoff != 500*time.Millisecond || sync != 0 {
		t.Errorf("got %+v %v, %v, %v", c.Health, c.ProbeSource(), handoff, sync)
	}
	if Defaults().ProbeSource().IsValid() {
		t.Error("the default probe.source is an address")
	}
}
