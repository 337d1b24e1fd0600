package main

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/miekg/dns"
	"github.com/poolnsd/poolnsd/dnsfront/lookup"
	"github.com/poolnsd/poolnsd/dnssec"
	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/zones"
)

// signalStatus is what `poolnsd dnssec status` says of RFC 9615's
// signals: the zones as serve would load them, signed by a signer with
// the keys and the configuration's CDS modes and dnssec.signal_off, so
// that the command lists what a registrar with the same files serves.
type signalStatus struct {
	zonesDir  string
	view      *handlespace.View // nil when the zones do not load
	loadErr   error
	signer    *dnssec.Signer
	cds       func(zone string) dnssec.CDSMode
	signalOff map[string]bool
}

func newSignalStatus(zonesDir string, ks *dnssec.Keys, opts dnssec.Options, signalOff map[string]bool) *signalStatus {
	st := &signalStatus{zonesDir: zonesDir, cds: opts.CDS, signalOff: signalOff}
	opts.Signals = func(zone string) bool { return !signalOff[zone] }
	st.signer = dnssec.NewSigner(opts)
	st.signer.SetKeys(ks)
	defs, err := zones.LoadDir(zonesDir)
	if err == nil {
		hs := handlespace.New(handlespace.Options{})
		if err = hs.ApplyZones(defs); err == nil {
			st.view = hs.View()
		}
	}
	st.loadErr = err
	return st
}

// print writes the signals of zone (signed): those of the zone under its
// name servers, and those of other zones that it holds.
func (st *signalStatus) print(w io.Writer, zone string) {
	const head = "signals (RFC 9615) under the zone's name servers"
	if st.view == nil {
		first, _, _ := strings.Cut(st.loadErr.Error(), "\n")
		fmt.Fprintf(w, "%s: not known: the zones in %s do not load (poolnsd check says why): %s\n", head, st.zonesDir, first)
		return
	}
	c := st.view.Zone(zone)
	why := ""
	switch {
	case c == nil:
		why = "none: the zone is not served here (no zone file in " + st.zonesDir + ")"
	case st.cds(zone) == dnssec.CDSOff:
		why = "none (dnssec.cds_off: the apex holds none of the keys' CDS and CDNSKEY records)"
	case st.cds(zone) == dnssec.CDSDelete:
		why = "none (dnssec.cds_delete: a zone leaving DNSSEC bootstraps nothing)"
	case st.signalOff[zone]:
		why = "none (dnssec.signal_off)"
	case !st.signer.Signalled(zone):
		why = "none: the zone publishes no CDS records of its keys"
	}
	if why == "" && c != nil {
		if p := lookup.ParentDS(st.view, c); p != nil {
			why = "none: its parent zone " + p.Origin + " is served here and holds its DS: bootstrapping is done (RFC 9615 §5.1)"
		}
	}
	var places []lookup.SignalPlace
	if c != nil {
		places = lookup.SignalPlaces(st.view, c, st.signer.Signed)
		if why == "" && len(places) == 0 {
			why = "none: the zone's apex has no NS RRset"
		}
	}
	if why != "" {
		fmt.Fprintf(w, "%s: %s\n", head, why)
	} else {
		n := 0
		for _, p := range places {
			if p.Why == lookup.SignalPublished {
				n++
			}
		}
		fmt.Fprintf(w, "%s: %d of %d published\n", head, n, len(places))
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  NAME SERVER\tSIGNAL\tIN ZONE\tCDS KEY TAGS")
		for _, p := range places {
			name, in, tags := dash(p.Name), "-", "none: "+p.Why.String()
			if p.Zone != nil {
				in = p.Zone.Origin
			}
			if p.Why == lookup.SignalPublished {
				tags = st.tags(zone, p.Name)
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", p.NS, name, in, tags)
		}
		tw.Flush()
	}
	// The signals of other zones that this one holds.
	var held [][3]string
	for _, o := range st.view.Zones() {
		if o.Origin == zone || !st.signer.Signalled(o.Origin) {
			continue
		}
		for _, p := range lookup.SignalPlaces(st.view, o, st.signer.Signed) {
			if p.Why == lookup.SignalPublished && p.Zone.Origin == zone {
				held = append(held, [3]string{p.Name, o.Origin, st.tags(o.Origin, p.Name)})
			}
		}
	}
	if len(held) == 0 {
		return
	}
	slices.SortFunc(held, func(a, b [3]string) int { return strings.Compare(a[0], b[0]) })
	fmt.Fprintf(w, "signals of other zones held in this zone: %d\n", len(held))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  SIGNAL\tFOR ZONE\tCDS KEY TAGS")
	for _, h := range held {
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", h[0], h[1], h[2])
	}
	tw.Flush()
}

// tags returns the key tags of the CDS records of zone's signal at name.
func (st *signalStatus) tags(zone, name string) string {
	var tags []string
	for _, rr := range st.signer.SignalRecords(zone, dns.TypeCDS, name) {
		if cds, ok := rr.(*dns.CDS); ok {
			tags = append(tags, strconv.Itoa(int(cds.KeyTag)))
		}
	}
	if len(tags) == 0 {
		return "-"
	}
	return strings.Join(tags, " ")
}
