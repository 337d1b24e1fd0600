package config

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"time"
)

// ENRP is the section "enrp": registrar peering.
type ENRP struct {
	Listen            string   `mapstructure:"listen"`
	Advertise         string   `mapstructure:"advertise"`
	Peers             []string `mapstructure:"peers"`
	TLS               ENRPTLS  `mapstructure:"tls"`
	Insecure          bool     `mapstructure:"insecure"`
	PresenceInterval  string   `mapstructure:"presence_interval"`
	MaxTimeLastHeard  string   `mapstructure:"max_time_last_heard"`
	MaxTimeNoResponse string   `mapstructure:"max_time_no_response"`
	PageSize          int      `mapstructure:"page_size"`
	HandoffTimeout    string   `mapstructure:"handoff_timeout"`
	SyncWait          string   `mapstructure:"sync_wait"`
}

// Health is the section "health": health from more than one vantage
// point.
type Health struct {
	Confirm int `mapstructure:"confirm"`
	Quorum  int `mapstructure:"quorum"`
}

// Waits returns enrp.handoff_timeout and enrp.sync_wait (Validate checked
// them).
func (e ENRP) Waits() (handoff, sync time.Duration) {
	handoff, _ = time.ParseDuration(e.HandoffTimeout)
	sync, _ = time.ParseDuration(e.SyncWait)
	return
}

// validateHealth checks the section "health".
func (c Config) validateHealth() []error {
	var errs []error
	if c.Health.Confirm < 0 || c.Health.Confirm > 16 {
		errs = append(errs, fmt.Errorf("health.confirm: %d is outside 0..16", c.Health.Confirm))
	}
	if c.Health.Quorum < 0 || c.Health.Quorum > 17 {
		errs = append(errs, fmt.Errorf("health.quorum: %d is outside 0..17", c.Health.Quorum))
	}
	return errs
}

// ENRPTLS is the section "enrp.tls".
type ENRPTLS struct {
	Cert string `mapstructure:"cert"`
	Key  string `mapstructure:"key"`
	CA   string `mapstructure:"ca"`
	// PostQuantum: offer the hybrid X25519MLKEM768 key exchange (see
	// enrpnet.TLSFiles).
	PostQuantum bool `mapstructure:"post_quantum"`
}

// ENRPPort is the port of peers given without one.
const ENRPPort = 9901

// Enabled reports whether peering is on (enrp.listen is set).
func (e ENRP) Enabled() bool { return e.Listen != "" }

// PeerAddrs returns enrp.peers with the default port where none is given.
func (e ENRP) PeerAddrs() []string {
	out := make([]string, 0, len(e.Peers))
	for _, p := range e.Peers {
		if _, _, err := net.SplitHostPort(p); err != nil {
			p = net.JoinHostPort(p, strconv.Itoa(ENRPPort))
		}
		out = append(out, p)
	}
	return out
}

// Durations returns the presence interval, max time last heard and max
// time no response (Validate checked them).
func (e ENRP) Durations() (presence, lastHeard, noResponse time.Duration) {
	presence, _ = time.ParseDuration(e.PresenceInterval)
	lastHeard, _ = time.ParseDuration(e.MaxTimeLastHeard)
	noResponse, _ = time.ParseDuration(e.MaxTimeNoResponse)
	return
}

// validateENRP checks the section "enrp"; each error starts with its key.
func (c Config) validateENRP() []error {
	var errs []error
	bad := func(key, format string, a ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, a...)))
	}
	e := c.ENRP
	hostPort := func(key, a string) bool {
		_, port, err := net.SplitHostPort(a)
		if err != nil {
			bad(key, "%q is not host:port", a)
			return false
		}
		if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
			bad(key, "%q has a bad port %q, want 0..65535", a, port)
			return false
		}
		return true
	}
	if e.Listen != "" {
		hostPort("enrp.listen", e.Listen)
	}
	if e.Advertise != "" {
		if _, err := netip.ParseAddrPort(e.Advertise); err != nil {
			bad("enrp.advertise", "%q is not IP:port", e.Advertise)
		}
	}
	seen := map[string]bool{}
	for _, p := range e.Peers {
		a := p
		if _, _, err := net.SplitHostPort(p); err != nil {
			a = net.JoinHostPort(p, strconv.Itoa(ENRPPort))
		}
		if !hostPort("enrp.peers", a) {
			continue
		}
		if seen[a] {
			bad("enrp.peers", "%q is listed twice", p)
		}
		seen[a] = true
	}
	if e.Listen == "" && len(e.Peers) > 0 {
		bad("enrp.listen", "empty, but enrp.peers names peers; set enrp.listen (e.g. \"127.0.0.1:9901\") to turn peering on")
	}
	if e.Listen != "" && !e.Insecure {
		for key, v := range map[string]string{"enrp.tls.cert": e.TLS.Cert, "enrp.tls.key": e.TLS.Key, "enrp.tls.ca": e.TLS.CA} {
			if v == "" {
				bad(key, "empty; peering needs TLS (enrp.tls.cert, enrp.tls.key, enrp.tls.ca) unless enrp.insecure is true")
			}
		}
	}
	durs := []struct {
		key, v string
		min    time.Duration
	}{
		{"enrp.presence_interval", e.PresenceInterval, 10 * time.Millisecond},
		{"enrp.max_time_last_heard", e.MaxTimeLastHeard, time.Millisecond},
		{"enrp.max_time_no_response", e.MaxTimeNoResponse, time.Millisecond},
	}
	var got [3]time.Duration
	for i, d := range durs {
		v, err := time.ParseDuration(d.v)
		switch {
		case err != nil:
			bad(d.key, "%q is not a duration, want e.g. 1s or 500ms", d.v)
		case v < d.min:
			bad(d.key, "%v is below %v", v, d.min)
		}
		got[i] = v
	}
	if got[0] > 0 && got[1] > 0 && got[1] <= got[0] {
		bad("enrp.max_time_last_heard", "%v is not above enrp.presence_interval (%v): every peer would be questioned between two PRESENCE", got[1], got[0])
	}
	if e.PageSize < 1 || e.PageSize > 1000 {
		bad("enrp.page_size", "%d is outside 1..1000", e.PageSize)
	}
	for _, d := range []struct{ key, v string }{{"enrp.handoff_timeout", e.HandoffTimeout}, {"enrp.sync_wait", e.SyncWait}} {
		v, err := time.ParseDuration(d.v)
		switch {
		case err != nil:
			bad(d.key, "%q is not a duration, want e.g. 2s or 0s", d.v)
		case v < 0 || v > time.Minute:
			bad(d.key, "%v is outside 0s..1m", v)
		}
	}
	return errs
}
