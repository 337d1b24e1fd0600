package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/miekg/dns"
	"github.com/poolnsd/poolnsd/config"
	"github.com/poolnsd/poolnsd/dnssec"
	"github.com/spf13/pflag"
)

const dnssecUsage = `Usage:
  poolnsd dnssec keygen [--algorithm 13|15] [--zsk] [--state active|published] [--at TIME] ZONE
  poolnsd dnssec import [--zsk] [--state active|published] [--at TIME] ZONE FILE.pem
  poolnsd dnssec ds ZONE
  poolnsd dnssec status [ZONE]
  poolnsd dnssec activate|retire|delete [--at TIME] [--force] ZONE TAG

Keys are BIND-format files K<zone>+<alg>+<tag>.key/.private in <data>/keys
(the data key of the configuration); a zone is signed when a key for it is
there. keygen makes a key (ECDSAP256SHA256 by default, 15 for Ed25519): the
zone's first key is active at once, a further one is published only (the
first step of a rollover). import takes a PEM private key (Knot's keymgr
keeps them in <kasp-db>/keys/). ds prints the DS records (SHA-256) the parent
zone should hold; status the keys, their states and times, and the zone's
RFC 9615 signals (where, or why none) as the zone files make them. activate, retire
and delete set a key's Activate, Inactive or Delete time (now, or --at: now,
+2h, +7d, RFC 3339 or YYYYMMDDHHMMSS), as dnssec-settime does; activate
refuses a time earlier than dnssec.dnskey_ttl after the key's publication
(unless --force), when the zone has other keys. A running
registrar applies key changes on SIGHUP, and by itself when a key's time
comes. The configuration flags (--config, --data, ...) work as for serve.
`

// dnssecCmd runs "poolnsd dnssec ...".
func dnssecCmd(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "--help" || args[0] == "-h" {
		w := stdout
		if len(args) == 0 {
			w = stderr
			fmt.Fprintln(stderr, "poolnsd dnssec: no command given")
		}
		fmt.Fprint(w, dnssecUsage)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	sub, rest := args[0], args[1:]
	fs := pflag.NewFlagSet("dnssec "+sub, pflag.ContinueOnError)
	config.RegisterFlags(fs)
	alg := fs.String("algorithm", "13", "keygen: algorithm, 13 (ECDSAP256SHA256) or 15 (ED25519)")
	zsk := fs.Bool("zsk", false, "keygen, import: a zone signing key (flags 256) to go beside a KSK, instead of a combined signing key (257)")
	state := fs.String("state", "", "keygen, import: active or published (default: active for a zone's first key or a new algorithm, else published)")
	at := fs.String("at", "now", "when the key's new state begins")
	force := fs.Bool("force", false, "activate: sign with the key before dnssec.dnskey_ttl has passed since its publication")
	nargs := map[string][2]int{"keygen": {1, 1}, "import": {2, 2}, "ds": {1, 1}, "status": {0, 1},
		"activate": {2, 2}, "retire": {2, 2}, "delete": {2, 2}}
	n, ok := nargs[sub]
	if !ok {
		fmt.Fprintf(stderr, "poolnsd dnssec: unknown command %q; want keygen, import, ds, status, activate, retire or delete\n", sub)
		return exitUsage
	}
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	if err := fs.Parse(rest); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			fmt.Fprint(stdout, dnssecUsage)
			return exitOK
		}
		fmt.Fprintf(stderr, "poolnsd dnssec %s: %v\n", sub, err)
		return exitUsage
	}
	if fs.NArg() < n[0] || fs.NArg() > n[1] {
		fmt.Fprintf(stderr, "poolnsd dnssec %s: wrong number of arguments\n%s", sub, dnssecUsage)
		return exitUsage
	}
	cfg, _, ok := loadConfig(fs, stderr)
	if !ok {
		return exitUsage
	}
	c := &keyCmd{dir: cfg.KeysDir(), now: time.Now().UTC().Truncate(time.Second), stdout: stdout, stderr: stderr, cmd: sub, dnskeyTTL: cfg.DNSSEC.DNSKEYTTL, force: *force, cds: cdsModes(cfg),
		zonesDir: cfg.Zones, signalOff: cfg.SignalOffZones()}
	var zone string
	if fs.NArg() > 0 {
		zone = strings.ToLower(dns.Fqdn(fs.Arg(0)))
		if _, ok := dns.IsDomainName(zone); !ok {
			return c.fail(exitUsage, "%q is not a zone name", fs.Arg(0))
		}
	}
	when, err := dnssec.ParseTime(*at, c.now)
	if err != nil {
		return c.fail(exitUsage, "--at: %v", err)
	}
	switch sub {
	case "keygen", "import":
		return c.newKey(zone, *alg, *zsk, *state, when, fs.Arg(1))
	case "ds":
		return c.ds(zone)
	case "status":
		return c.status(zone)
	default:
		tag, err := strconv.ParseUint(fs.Arg(1), 10, 16)
		if err != nil {
			return c.fail(exitUsage, "%q is not a key tag (0..65535)", fs.Arg(1))
		}
		return c.setState(zone, uint16(tag), when)
	}
}

// keyCmd is one run of a key command.
type keyCmd struct {
	dir            string
	now            time.Time
	stdout, stderr io.Writer
	cmd            string
	dnskeyTTL      int
	force          bool // activate before the DNSKEY TTL has passed
	cds            func(zone string) dnssec.CDSMode
	zonesDir       string          // status: the zones, for the signals
	signalOff      map[string]bool // status: dnssec.signal_off
}

func (c *keyCmd) fail(code int, format string, a ...any) int {
	fmt.Fprintf(c.stderr, "poolnsd dnssec %s: %s\n", c.cmd, fmt.Sprintf(format, a...))
	return code
}

// load reads the keys directory, printing its errors.
func (c *keyCmd) load(at time.Time) (*dnssec.Keys, bool) {
	ks, err := dnssec.Load(c.dir, at)
	if err != nil {
		for _, line := range strings.Split(err.Error(), "\n") {
			fmt.Fprintf(c.stderr, "poolnsd dnssec %s: %s\n", c.cmd, line)
		}
		return nil, false
	}
	return ks, true
}

func (c *keyCmd) newKey(zone, algName string, zsk bool, state string, when time.Time, pemFile string) int {
	ks, ok := c.load(c.now)
	if !ok {
		return exitRuntime
	}
	flags := uint16(dnssec.FlagsCSK)
	if zsk {
		flags = dnssec.FlagsZSK
	}
	var k *dnssec.Key
	var err error
	t := dnssec.Timing{Created: c.now, Publish: when}
	if c.cmd == "import" {
		var b []byte
		if b, err = os.ReadFile(pemFile); err == nil {
			k, err = dnssec.ImportPEM(zone, b, flags, t)
		}
	} else {
		var alg uint8
		if alg, err = dnssec.ParseAlgorithm(algName); err != nil {
			return c.fail(exitUsage, "%v", err)
		}
		k, err = dnssec.Generate(zone, alg, flags, t)
	}
	if err != nil {
		return c.fail(exitRuntime, "%v", err)
	}
	if state == "" {
		state = "published"
		if dnssec.NewKeyActive(ks.Zone(zone), k.Algorithm) {
			state = "active"
		}
	}
	switch state {
	case "active":
		k.Timing.Activate = when
	case "published":
	default:
		return c.fail(exitUsage, "--state %q; want active or published", state)
	}
	if err := dnssec.AddKey(c.dir, k, c.now); err != nil { // never keys a registrar would refuse
		return c.fail(exitRuntime, "%v", err)
	}
	fmt.Fprintf(c.stdout, "%s\n", k.File)
	fmt.Fprintf(c.stdout, "key %d (%s, flags %d) for %s: %s from %s\n", k.Tag, dnssec.AlgorithmName(k.Algorithm), k.DNSKEY.Flags, zone, state, when.Format(time.RFC3339))
	if state == "published" {
		fmt.Fprintf(c.stdout, "it may sign from %s on (dnssec.dnskey_ttl after its publication): poolnsd dnssec activate %s %d\n",
			when.Add(time.Duration(c.dnskeyTTL)*time.Second).Format(time.RFC3339), zone, k.Tag)
	}
	if k.SEP() {
		ds := k.DS()
		fmt.Fprintf(c.stdout, "DS for the parent: %s IN DS %d %d %d %s\n", zone, ds.KeyTag, ds.Algorithm, ds.DigestType, strings.ToUpper(ds.Digest))
	}
	fmt.Fprintln(c.stdout, "copy both files to every registrar's keys directory, then send them SIGHUP")
	return exitOK
}

func (c *keyCmd) ds(zone string) int {
	ks, ok := c.load(c.now)
	if !ok {
		return exitRuntime
	}
	zk := ks.Zone(zone)
	if zk == nil {
		return c.fail(exitRuntime, "no keys for %s in %s", zone, c.dir)
	}
	for _, k := range zk.ParentDS() {
		ds := k.DS()
		fmt.Fprintf(c.stdout, "%s IN DS %d %d %d %s\n", zone, ds.KeyTag, ds.Algorithm, ds.DigestType, strings.ToUpper(ds.Digest))
	}
	return exitOK
}

func (c *keyCmd) status(zone string) int {
	ks, ok := c.load(c.now)
	if !ok {
		return exitRuntime
	}
	zones := ks.Zones()
	if zone != "" {
		if ks.Zone(zone) == nil {
			fmt.Fprintf(c.stdout, "%s: no keys in %s: served unsigned\n", zone, c.dir)
			return exitOK
		}
		zones = []string{zone}
	}
	if len(zones) == 0 {
		fmt.Fprintf(c.stdout, "no keys in %s: every zone is served unsigned\n", c.dir)
	}
	tm := func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return t.UTC().Format(time.RFC3339)
	}
	var signals *signalStatus
	if len(zones) > 0 {
		signals = newSignalStatus(c.zonesDir, ks, dnssec.Options{DNSKEYTTL: uint32(c.dnskeyTTL), CDS: c.cds, Now: func() time.Time { return c.now }}, c.signalOff)
	}
	for i, name := range zones {
		if i > 0 {
			fmt.Fprintln(c.stdout)
		}
		zk := ks.Zone(name)
		fmt.Fprintf(c.stdout, "zone %s: signed (%s)\n", name, c.now.Format(time.RFC3339))
		w := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(w, "  TAG\tALGORITHM\tFLAGS\tSTATE\tROLE\tPUBLISH\tACTIVATE\tINACTIVE\tDELETE\tFILE")
		for j, k := range zk.Keys {
			fmt.Fprintf(w, "  %d\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", k.Tag, dnssec.AlgorithmName(k.Algorithm), k.DNSKEY.Flags,
				zk.States[j], zk.Role(k), tm(k.Timing.Publish), tm(k.Timing.Activate), tm(k.Timing.Inactive), tm(k.Timing.Delete), filepath.Base(k.File))
		}
		w.Flush()
		fmt.Fprintln(c.stdout, "DS the parent should hold (SHA-256):")
		for _, k := range zk.ParentDS() {
			ds := k.DS()
			fmt.Fprintf(c.stdout, "  %s IN DS %d %d %d %s\n", name, ds.KeyTag, ds.Algorithm, ds.DigestType, strings.ToUpper(ds.Digest))
		}
		switch c.cds(name) {
		case dnssec.CDSKeys:
			fmt.Fprintln(c.stdout, "CDS and CDNSKEY at the apex: those of these DS (RFC 7344: a parent that reads them follows)")
		case dnssec.CDSOff:
			fmt.Fprintln(c.stdout, "CDS and CDNSKEY at the apex: none (dnssec.cds_off)")
		case dnssec.CDSDelete:
			fmt.Fprintln(c.stdout, "CDS and CDNSKEY at the apex: delete (dnssec.cds_delete): they ask the parent to remove the zone's DS (RFC 8078)")
		}
		signals.print(c.stdout, name)
		for j, k := range zk.Keys {
			switch zk.States[j] {
			case dnssec.StatePublished:
				ready := k.Timing.Publish.Add(time.Duration(c.dnskeyTTL) * time.Second)
				fmt.Fprintf(c.stdout, "key %d is published only: activate it after %s (dnssec.dnskey_ttl after its publication), once the parent has its DS\n", k.Tag, tm(ready))
			case dnssec.StateRetired:
				fmt.Fprintf(c.stdout, "key %d is retired: take its DS from the parent, wait for the parent's DS TTL, then: poolnsd dnssec delete %s %d\n", k.Tag, name, k.Tag)
			}
		}
	}
	if next := ks.NextEvent(); !next.IsZero() {
		fmt.Fprintf(c.stdout, "next key change: %s\n", tm(next))
	}
	return exitOK
}

// setState sets the Activate, Inactive or Delete time of a key.
func (c *keyCmd) setState(zone string, tag uint16, when time.Time) int {
	ks, ok := c.load(c.now)
	if !ok {
		return exitRuntime
	}
	zk := ks.Zone(zone)
	var k *dnssec.Key
	if zk != nil {
		for _, x := range zk.Keys {
			if x.Tag == tag {
				k = x
			}
		}
	}
	if k == nil {
		return c.fail(exitRuntime, "no key %d for %s in %s", tag, zone, c.dir)
	}
	t := k.Timing
	switch c.cmd {
	case "activate":
		t = dnssec.Activated(t, when)
		ttl := time.Duration(c.dnskeyTTL) * time.Second
		if ready := dnssec.SignableFrom(zk, k, t.Publish, c.now, ttl); when.Before(ready) && !c.force {
			return c.fail(exitRuntime, "not done: key %d is published from %s; resolvers may hold the zone's DNSKEY RRset without it "+
				"until %s (dnssec.dnskey_ttl, %d s, later), and answers that only it signed would fail to validate there. "+
				"Activate it from then on (--at %s), or give --force",
				tag, t.Publish.Format(time.RFC3339), ready.Format(time.RFC3339), c.dnskeyTTL, ready.Format(time.RFC3339))
		}
	case "retire":
		t.Inactive = when
	case "delete":
		t.Delete = when
	}
	// The zone must load at that time and now: a command must not leave it
	// without an active key.
	if err := dnssec.Retime(c.dir, k, t, c.now, when); err != nil {
		return c.fail(exitRuntime, "not done: %v", err)
	}
	fmt.Fprintf(c.stdout, "key %d of %s: %s from %s\n", tag, zone, map[string]string{"activate": "active", "retire": "retired", "delete": "deleted"}[c.cmd], when.Format(time.RFC3339))
	fmt.Fprintln(c.stdout, "copy both files to every registrar's keys directory, then send them SIGHUP")
	return exitOK
}

// startDNSSEC loads the DNSSEC keys at start: a key that cannot be used
// stops the start (a zone must not go out unsigned by surprise).
func (d *daemon) startDNSSEC() int {
	var err error
	modes := cdsModes(d.cfg)
	d.cds.Store(&modes)
	signalOff := d.cfg.SignalOffZones()
	d.signalOff.Store(&signalOff)
	d.dnssec, err = dnssec.NewKeeper(dnssec.KeeperOptions{
		Dir: d.cfg.KeysDir(),
		Signer: dnssec.Options{
			Validity:  d.cfg.SignatureValidity(),
			DNSKEYTTL: uint32(d.cfg.DNSSEC.DNSKEYTTL),
			CacheSize: d.cfg.SignatureCacheBytes(),
			CDS:       func(zone string) dnssec.CDSMode { return (*d.cds.Load())(zone) },
			Signals:   func(zone string) bool { return !(*d.signalOff.Load())[zone] },
		},
		Log:    d.log,
		Served: func(zone string) bool { return d.hs.View().Zone(zone) != nil },
	})
	if err != nil {
		logErrors(d.log, "cannot load the DNSSEC keys", err)
		return exitRuntime
	}
	return exitOK
}

// applyCDS is the reload's applier of dnssec.cds_off, dnssec.cds_delete
// and dnssec.signal_off: the zones are made again with the new modes.
func (d *daemon) applyCDS(c config.Config) error {
	modes := cdsModes(c)
	d.cds.Store(&modes)
	signalOff := c.SignalOffZones()
	d.signalOff.Store(&signalOff)
	d.dnssec.Reload("configuration")
	return nil
}

// cdsModes returns the CDS mode of each zone by dnssec.cds_off and
// dnssec.cds_delete.
func cdsModes(cfg config.Config) func(zone string) dnssec.CDSMode {
	off, del := cfg.CDSZones()
	return func(zone string) dnssec.CDSMode {
		switch {
		case off[zone]:
			return dnssec.CDSOff
		case del[zone]:
			return dnssec.CDSDelete
		}
		return dnssec.CDSKeys
	}
}
