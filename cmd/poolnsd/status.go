package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/poolnsd/poolnsd/config"
	"github.com/poolnsd/poolnsd/httpapi"
	"github.com/spf13/pflag"
)

// Exit codes of status, drain and undrain, beside exitOK, exitUsage and
// exitRuntime (the server cannot be reached, or answers an error).
const (
	// exitDegraded: status found a pool with elements of which none is in
	// the answers.
	exitDegraded = 1
	// exitNotFound: drain or undrain named a pool or an element that the
	// server does not have (or a handle in several zones).
	exitNotFound = 4
	// exitDenied: the server refused the token (none, wrong, or write
	// endpoints disabled).
	exitDenied = 5
)

// clientTimeout bounds one request of the CLI.
const clientTimeout = 10 * time.Second

// clientFlags are the flags of the commands that talk to a server.
type clientFlags struct {
	fs     *pflag.FlagSet
	server *string
	token  *string
}

func newClientFlags(cmd string) clientFlags {
	fs := pflag.NewFlagSet(cmd, pflag.ContinueOnError)
	fs.String(config.ConfigFlag, "", "config file whose http.listen and http.token to use (default "+config.DefaultFile+" if there is one)")
	return clientFlags{
		fs:     fs,
		server: fs.String("server", "", "the server's HTTP API: URL or host:port (default: http.listen of the configuration, "+config.Defaults().HTTP.Listen+")"),
		token:  fs.String("token", "", "bearer token of write endpoints (default: $POOLNSD_HTTP_TOKEN, or http.token of the configuration)"),
	}
}

// endpoint works out the server's base URL and the token: the flags, else
// the configuration (file, environment) that the server would read.
func (c clientFlags) endpoint(stderr io.Writer, cmd string) (base *url.URL, token string, code int, ok bool) {
	server, token := *c.server, *c.token
	if server == "" || token == "" {
		cfg, _, err := config.Load(config.LoadOptions{Flags: c.fs})
		if err != nil {
			for _, line := range strings.Split(err.Error(), "\n") {
				fmt.Fprintf(stderr, "poolnsd %s: %s\n", cmd, line)
			}
			return nil, "", exitUsage, false
		}
		if server == "" {
			if cfg.HTTP.Listen == "" {
				fmt.Fprintf(stderr, "poolnsd %s: http.listen is off in the configuration; give --server\n", cmd)
				return nil, "", exitUsage, false
			}
			server = cfg.HTTP.Listen
		}
		if token == "" {
			token = cfg.HTTP.Token
		}
	}
	u, err := serverURL(server)
	if err != nil {
		fmt.Fprintf(stderr, "poolnsd %s: --server: %v\n", cmd, err)
		return nil, "", exitUsage, false
	}
	return u, token, exitOK, true
}

// serverURL turns http://host:port[/prefix], host:port or a listen address
// (":8053", "0.0.0.0:8053", "[::]:8053") into the URL to connect to.
func serverURL(s string) (*url.URL, error) {
	if !strings.Contains(s, "://") {
		host, port, err := net.SplitHostPort(s)
		if err != nil {
			return nil, fmt.Errorf("%q is neither a URL nor host:port", s)
		}
		switch host {
		case "", "0.0.0.0":
			host = "127.0.0.1"
		case "::":
			host = "::1"
		}
		s = "http://" + net.JoinHostPort(host, port)
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, err
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("%q: want an http:// or https:// URL", s)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("%q has no host", s)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	return u, nil
}

// apiError is an error reply of the API.
type apiError struct {
	status int
	msg    string
	home   string // the element's home registrar, when it refused or could not be asked
}

func (e *apiError) Error() string { return fmt.Sprintf("%s (HTTP %d)", e.msg, e.status) }

// call sends one request to the API and decodes the JSON reply into out.
func call(ctx context.Context, method string, u *url.URL, path, token string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(ctx, clientTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, u.String()+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "poolnsd-cli")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("cannot reach %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return fmt.Errorf("reading the reply of %s: %v", u, err)
	}
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		return fmt.Errorf("%s%s answered %s with %q, not JSON: is it a poolnsd HTTP API?", u, path, resp.Status, resp.Header.Get("Content-Type"))
	}
	if resp.StatusCode >= 300 {
		var e httpapi.ErrorJSON
		if json.Unmarshal(b, &e) != nil || e.Error == "" {
			e.Error = resp.Status
		}
		return &apiError{status: resp.StatusCode, msg: e.Error, home: e.Home}
	}
	if raw, ok := out.(*json.RawMessage); ok {
		*raw = append((*raw)[:0], b...)
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("bad reply from %s%s: %v", u, path, err)
	}
	return nil
}

// exitFor is the exit code for an error of call.
func exitFor(err error) int {
	var ae *apiError
	if errors.As(err, &ae) {
		switch ae.status {
		case http.StatusUnauthorized, http.StatusForbidden:
			return exitDenied
		case http.StatusConflict:
			if ae.home != "" {
				return exitRuntime // the element's home refused: the registrars' views differ for now
			}
			return exitNotFound
		case http.StatusNotFound, http.StatusBadRequest:
			return exitNotFound
		}
	}
	return exitRuntime
}

func statusCmd(args []string, stdout, stderr io.Writer) int {
	c := newClientFlags("status")
	asJSON := c.fs.Bool("json", false, "print the server's JSON (GET /v1/status) instead of tables")
	problems := c.fs.Bool("problems", false, "list only the elements that are not up and served, and the pools that have any")
	peers := c.fs.Bool("peers", false, "list the registrars of the cluster (GET /v1/peers) instead of the pools: state, address, last heard, elements homed, last sync, recent events")
	if code, ok := parseFlags(c.fs, "status", args, stdout, stderr); !ok {
		return code
	}
	if c.fs.NArg() > 0 {
		fmt.Fprintf(stderr, "poolnsd status: unexpected argument %q; see poolnsd help\n", c.fs.Arg(0))
		return exitUsage
	}
	u, _, code, ok := c.endpoint(stderr, "status")
	if !ok {
		return code
	}
	if *peers {
		return statusPeers(u, *asJSON, stdout, stderr)
	}
	var raw json.RawMessage
	if err := call(context.Background(), http.MethodGet, u, "/v1/status", "", nil, &raw); err != nil {
		fmt.Fprintf(stderr, "poolnsd status: %v\n", err)
		return exitRuntime
	}
	var st httpapi.StatusJSON
	if err := json.Unmarshal(raw, &st); err != nil {
		fmt.Fprintf(stderr, "poolnsd status: bad reply from %s: %v\n", u, err)
		return exitRuntime
	}
	if *asJSON {
		var buf bytes.Buffer
		if err := json.Indent(&buf, raw, "", "  "); err != nil {
			fmt.Fprintf(stderr, "poolnsd status: bad reply from %s: %v\n", u, err)
			return exitRuntime
		}
		buf.WriteByte('\n')
		stdout.Write(buf.Bytes())
	} else {
		writeStatus(stdout, &st, *problems)
	}
	for _, p := range st.Pools {
		if p.Counts.Elements > 0 && p.Counts.Served == 0 {
			return exitDegraded
		}
		if p.FailOpen {
			return exitDegraded
		}
	}
	return exitOK
}

// writeStatus prints the pools as a table, then each pool's elements.
func writeStatus(w io.Writer, st *httpapi.StatusJSON, problems bool) {
	t := st.Totals
	disputed := ""
	if t.Disputed > 0 {
		disputed = fmt.Sprintf(", %d disputed", t.Disputed)
	}
	fmt.Fprintf(w, "registrar %s: %d pools, %d elements, %d served, %d up, %d down, %d unknown, %d drained, %d forced down, %d reported%s\n",
		dash(st.Registrar), len(st.Pools), t.Elements, t.Served, t.Up, t.Down, t.Unknown, t.Drained, t.ForcedDown, t.Reported, disputed)
	if len(st.Pools) == 0 {
		return
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "POOL\tPOLICY\tTTL\tANSWERS\tSERVED\tUP\tDOWN\tUNKNOWN\tDRAINED\tFORCED\tREPORTED\tPROBE\tSTATE")
	for _, p := range st.Pools {
		c := p.Counts
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d/%d\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t%s\n", p.Name, p.Policy, p.TTL, p.Answers,
			c.Served, c.Elements, c.Up, c.Down, c.Unknown, c.Drained, c.ForcedDown, c.Reported, probeString(p.Probe), poolState(&p))
	}
	tw.Flush()
	for _, p := range st.Pools {
		var es []httpapi.ElementJSON
		if p.Elements != nil {
			for _, e := range *p.Elements {
				if !problems || elementProblem(&e) {
					es = append(es, e)
				}
			}
		}
		if len(es) == 0 {
			continue
		}
		slices.SortStableFunc(es, func(a, b httpapi.ElementJSON) int { return naturalCompare(a.Label, b.Label) })
		fmt.Fprintf(w, "\n%s\n", p.Name)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  ELEMENT\tID\tADDRESS\tHEALTH\tSERVED\tADMIN\tLAST PROBE\tRTT\tLOAD\tWEIGHT\tPRIO\tSITE\tHOME\tLEASE")
		for _, e := range es {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%s\t%s\t%s\n",
				e.Label, e.ID, addrString(&e), healthString(&e), yesNo(e.Served), adminString(&e), lastProbe(&e, st.Time),
				rttString(e.RTTms), fmt.Sprintf("%g%%", roundTo(e.Load*100, 10)), e.Weight, e.Priority, dash(e.Site),
				homeString(e.Home, st.Registrar), leaseString(&e))
		}
		tw.Flush()
		for _, e := range es {
			if e.Disputed {
				fmt.Fprintf(w, "  %s is disputed: %s\n", e.Label, vantageString(&e, st.Registrar))
			}
		}
	}
}

// healthString is an element's health, marked when its vantage points
// disagree.
func healthString(e *httpapi.ElementJSON) string {
	if e.Disputed {
		return e.Health + " (disputed)"
	}
	return e.Health
}

// vantageString says what each vantage point saw of a disputed element,
// and whether it goes last here.
func vantageString(e *httpapi.ElementJSON, self string) string {
	var b strings.Builder
	for i, v := range e.Vantage {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(v.Registrar)
		if v.Registrar == self {
			b.WriteString(" (here)")
		}
		b.WriteString(" sees it ")
		b.WriteString(v.Health)
	}
	if e.Last {
		b.WriteString("; last in this registrar's answers")
	} else {
		b.WriteString("; in this registrar's answers as usual")
	}
	return b.String()
}

func poolState(p *httpapi.PoolJSON) string {
	switch {
	case p.Counts.Elements == 0:
		return "empty"
	case p.FailOpen:
		return "FAIL-OPEN"
	case p.Counts.Served == 0:
		return "DOWN"
	case p.Counts.Served < p.Counts.Elements:
		return "degraded"
	}
	return "ok"
}

func elementProblem(e *httpapi.ElementJSON) bool {
	return e.Health != "up" || !e.Served || e.Admin != "auto" || e.Reported || e.Disputed
}

func probeString(p *httpapi.ProbeJSON) string {
	if p == nil {
		return "-"
	}
	s := p.Kind
	if p.Target != "" {
		s += ":" + p.Target
	}
	if p.Kind != "none" {
		s += " every " + (time.Duration(p.IntervalMS) * time.Millisecond).String()
	}
	return s
}

func addrString(e *httpapi.ElementJSON) string {
	if len(e.Addresses) == 0 {
		return fmt.Sprintf(":%d", e.Port)
	}
	a := net.JoinHostPort(e.Addresses[0], fmt.Sprint(e.Port))
	if len(e.Addresses) > 1 {
		a += fmt.Sprintf(" (+%d)", len(e.Addresses)-1)
	}
	return a
}

func adminString(e *httpapi.ElementJSON) string {
	s := e.Admin
	if e.Reported {
		s += ",reported"
	}
	return s
}

func lastProbe(e *httpapi.ElementJSON, now time.Time) string {
	lp := e.LastProbe
	if lp == nil {
		return "-"
	}
	ago := max(0, now.Sub(lp.At)).Round(100 * time.Millisecond)
	if lp.OK {
		return fmt.Sprintf("pass %s ago", ago)
	}
	return fmt.Sprintf("FAIL %s ago: %s", ago, lp.Error)
}

func rttString(ms *float64) string {
	if ms == nil {
		return "-"
	}
	return (time.Duration(*ms * float64(time.Millisecond))).Round(10 * time.Microsecond).String()
}

func leaseString(e *httpapi.ElementJSON) string {
	if e.LeaseLeftS == nil {
		return "-"
	}
	return (time.Duration(*e.LeaseLeftS * float64(time.Second))).Round(time.Second).String()
}

func homeString(home, self string) string {
	if home != "" && home == self {
		return home + " (here)"
	}
	return dash(home)
}

func roundTo(f, scale float64) float64 {
	return float64(int64(f*scale+0.5)) / scale
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// adminCmd is drain (state drain, or force-down with --force) and undrain
// (state auto).
func adminCmd(cmd string, args []string, stdout, stderr io.Writer) int {
	c := newClientFlags(cmd)
	force := false
	if cmd == "drain" {
		c.fs.BoolVar(&force, "force", false, "force the element down (state force-down) instead of draining it")
	}
	if code, ok := parseFlags(c.fs, cmd, args, stdout, stderr); !ok {
		return code
	}
	if c.fs.NArg() != 2 {
		fmt.Fprintf(stderr, "poolnsd %s: want POOL ELEMENT (a pool name or handle, and an element's label or identifier), got %d arguments\n", cmd, c.fs.NArg())
		return exitUsage
	}
	pool, pe := c.fs.Arg(0), c.fs.Arg(1)
	u, token, code, ok := c.endpoint(stderr, cmd)
	if !ok {
		return code
	}
	if token == "" {
		fmt.Fprintf(stderr, "poolnsd %s: no token: give --token, set POOLNSD_HTTP_TOKEN, or http.token in the configuration\n", cmd)
		return exitDenied
	}
	state := "auto"
	if cmd == "drain" {
		state = "drain"
		if force {
			state = "force-down"
		}
	}
	var e httpapi.ElementJSON
	path := "/v1/pools/" + url.PathEscape(pool) + "/elements/" + url.PathEscape(pe) + "/admin"
	if err := call(context.Background(), http.MethodPut, u, path, token, map[string]string{"state": state}, &e); err != nil {
		fmt.Fprintf(stderr, "poolnsd %s: %v\n", cmd, err)
		return exitFor(err)
	}
	fmt.Fprintf(stdout, "%s (%s, %s): admin %s, health %s, served %s\n", e.Name, e.ID, addrString(&e), e.Admin, e.Health, yesNo(e.Served))
	return exitOK
}

// naturalCompare orders strings with their runs of digits by value, so
// that web2 comes before web10.
func naturalCompare(a, b string) int {
	for a != "" && b != "" {
		da, db := digits(a), digits(b)
		if da > 0 && db > 0 {
			na, nb := strings.TrimLeft(a[:da], "0"), strings.TrimLeft(b[:db], "0")
			if c := cmpInt(len(na), len(nb)); c != 0 {
				return c
			}
			if c := strings.Compare(na, nb); c != 0 {
				return c
			}
			a, b = a[da:], b[db:]
			continue
		}
		if a[0] != b[0] {
			return cmpInt(int(a[0]), int(b[0]))
		}
		a, b = a[1:], b[1:]
	}
	return cmpInt(len(a), len(b))
}

func digits(s string) int {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return i
}

func cmpInt(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
