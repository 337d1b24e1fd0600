package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/poolnsd/poolnsd/history"
)

// statusPeers is poolnsd status --peers: the registrars of the cluster as
// the server sees them (GET /v1/peers), and its recent peering events.
// It returns exitDegraded when a peer is suspect or dead (not when it
// left by hand-off: a planned stop).
func statusPeers(u *url.URL, asJSON bool, stdout, stderr io.Writer) int {
	var raw json.RawMessage
	if err := call(context.Background(), http.MethodGet, u, "/v1/peers", "", nil, &raw); err != nil {
		fmt.Fprintf(stderr, "poolnsd status: %v\n", err)
		return exitRuntime
	}
	var pr history.PeersReply
	if err := json.Unmarshal(raw, &pr); err != nil {
		fmt.Fprintf(stderr, "poolnsd status: bad reply from %s: %v\n", u, err)
		return exitRuntime
	}
	if asJSON {
		var buf bytes.Buffer
		if err := json.Indent(&buf, raw, "", "  "); err != nil {
			fmt.Fprintf(stderr, "poolnsd status: bad reply from %s: %v\n", u, err)
			return exitRuntime
		}
		buf.WriteByte('\n')
		stdout.Write(buf.Bytes())
	} else {
		writePeers(stdout, &pr)
	}
	for _, p := range pr.Peers {
		if p.State != history.PeerUp && p.State != history.PeerLeft {
			return exitDegraded
		}
	}
	return exitOK
}

// writePeers prints the registrars as a table, then the recent events.
func writePeers(w io.Writer, pr *history.PeersReply) {
	if !pr.Peering {
		fmt.Fprintf(w, "registrar %s does not peer (enrp.listen is off); home of %d elements\n", pr.Registrar, pr.Homed)
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "REGISTRAR\tSTATE\tADDRESS\tLAST HEARD\tRTT\tHOME OF\tLAST SYNC\tLAST TAKEOVER/HAND-OFF")
	fmt.Fprintf(tw, "%s\tthis one\t%s\t\t\t%d\t\t\n", pr.Registrar, pr.Addr, pr.Homed)
	for _, p := range pr.Peers {
		heard := "never"
		if p.HeardAgoS != nil {
			heard = agoString(time.Duration(*p.HeardAgoS * float64(time.Second)))
		}
		sync := "-"
		if p.Sync != nil {
			sync = p.Sync.Kind
			if p.Sync.Count > 0 {
				sync += " (" + strconv.Itoa(p.Sync.Count) + ")"
			}
			sync += ", " + agoString(pr.Time.Sub(p.Sync.At))
		}
		addr := p.Addr
		if addr == "" {
			addr = "?"
		}
		rtt := rttString(p.RTTMS)
		ho := "-"
		if p.Handover != nil {
			ho = p.Handover.Kind
			if p.Handover.Count > 0 {
				ho += " (" + strconv.Itoa(p.Handover.Count) + ")"
			}
			ho += ", " + agoString(pr.Time.Sub(p.Handover.At))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", p.ID, p.State, addr, heard, rtt, p.Homed, sync, ho)
	}
	tw.Flush()
	if len(pr.Handovers) > 0 {
		fmt.Fprintln(w, "\nrecent takeovers and hand-offs (newest first):")
		for i, e := range pr.Handovers {
			if i == 10 {
				fmt.Fprintf(w, "  … %d more (--json has them all)\n", len(pr.Handovers)-i)
				break
			}
			fmt.Fprintln(w, "  "+eventLine(e))
		}
	}
	if len(pr.Events) == 0 {
		return
	}
	fmt.Fprintln(w, "\nrecent peering events (newest first):")
	for i, e := range pr.Events {
		if i == 20 {
			fmt.Fprintf(w, "  … %d more (--json has them all)\n", len(pr.Events)-i)
			break
		}
		fmt.Fprintln(w, "  "+eventLine(e))
	}
}

// eventLine is one peering event, for people.
func eventLine(e history.EventJSON) string {
	line := e.At.Local().Format("15:04:05") + "  " + e.Kind
	if e.Peer != "" {
		line += " peer " + e.Peer
	}
	if e.Target != "" {
		line += " of " + e.Target
	}
	if e.Count != 0 {
		line += fmt.Sprintf(" (%d elements)", e.Count)
	}
	if e.Detail != "" {
		line += ": " + e.Detail
	}
	return line
}

// agoString is a duration in the past, rounded for people.
func agoString(d time.Duration) string {
	switch {
	case d < 0:
		d = 0
	case d < time.Second:
		return d.Round(time.Millisecond).String() + " ago"
	case d < time.Minute:
		return d.Round(100*time.Millisecond).String() + " ago"
	}
	return d.Round(time.Second).String() + " ago"
}
