package config

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/pflag"
)

// Option is one configuration key: the single place of its default and its
// documentation.
type Option struct {
	// Key is the dotted key, as in the YAML file: "dns.udp_size".
	Key string
	// Default is the value when no source sets the key. Its Go type is the
	// key's type: string, int, bool or []string.
	Default any
	// Unit of the value ("bytes", "seconds"), "" if none.
	Unit string
	// Doc says what the key does, in one line, with its allowed values.
	Doc string
}

// options is the table of every key, in the order of the documentation.
// Keys of one section are adjacent.
var options = []Option{
	{"dns.listen", []string{"127.0.0.1:5300"}, "",
		"addresses (host:port) to serve DNS on, UDP and TCP on each"},
	{"dns.udp_size", 1232, "bytes",
		"largest UDP reply to EDNS clients, 512..65535 (clients without EDNS get 512)"},
	{"dns.udp_sockets", 0, "",
		"SO_REUSEPORT UDP sockets per listen address; 0 is one per CPU (GOMAXPROCS)"},
	{"dns.udp_wait", "thread", "",
		"how each UDP socket's loop waits for queries: \"thread\", in its own recvmmsg on a thread that keeps its Go P (GOMAXPROCS is raised by one per socket; under a real-time scheduling policy the loops wait through the Go scheduler instead and GOMAXPROCS is not raised), or \"poller\", in Go's network poller as a goroutine (an EAGAIN read and the scheduler's park and wake each time the socket is found empty)"},
	{"dns.udp_nice", -10, "",
		"added to poolnsd's nice value for the threads of the dns.udp_wait: thread UDP loops, -20..0: a negative value has the kernel run the loops ahead of the rest of the daemon (registrations, monitor, collector) on a busy CPU; needs CAP_SYS_NICE or an RLIMIT_NICE that allows it, as the systemd unit's LimitNICE=-10 does (without, the loops run at the process's nice and one info line says so); 0 leaves the threads alone; no effect with dns.udp_wait: poller"},
	{"dns.udp_sojourn", false, "",
		"time each UDP query from the kernel's receipt to its reply (SO_TIMESTAMPNS), for the histogram poolnsd_dns_udp_sojourn_seconds: the server's latency as clients see it, the wait in the socket's queue included; costs about 0.2-0.3 µs of CPU per query (the kernel's time stamp of each datagram), so off by default"},
	{"zones", "./zones", "",
		"directory of zone files (*.zone)"},
	{"zones_watch", true, "",
		"reload the zones when a file in the zones directory changes (SIGHUP always reloads)"},
	{"sites_mmdb", "", "",
		"MaxMind DB file (.mmdb: GeoIP2/GeoLite2 City, Country or ASN) whose records map clients to the sites of the \"sites\" map by AS, country, continent or location, for the nearest policy; reloaded on SIGHUP and when the file changes; \"\" turns it off"},
	{"data", "./data", "",
		"data directory: the store of registrations and this registrar's identity"},
	{"store.log_compact", 32, "MiB",
		"size of the store's element log at which it is compacted into the bbolt file, 1..65536: larger, fewer compactions for more writes each, and more to replay after a crash (about 150 000 registrations per 32 MiB)"},
	{"log.level", "info", "",
		"least severe log level written: debug, info, warn or error"},
	{"log.format", "text", "",
		"log line format: text (key=value) or json"},
	{"log.queries", false, "",
		"log one info line per DNS query (client, name, type, rcode, size); costs a log write per query"},
	{"http.listen", "127.0.0.1:8053", "",
		"address (host:port) of the HTTP listener: the JSON API (/v1/...), the status page (/), /metrics, /healthz and /readyz; \"\" turns it off"},
	{"http.token", "", "",
		"bearer token that the API's write endpoints (failure reports, admin states, registrations) require: without it or with another they answer 401; empty turns them off (403)"},
	{"http.report_token", "", "",
		"bearer token that failure reports (POST /v1/pools/{pool}/reports) take besides http.token, and no other endpoint does: the pool users' credential, which cannot drain; empty: none"},
	{"probe.workers", 64, "",
		"most probes in flight at once, 1..100000 (a probe that hangs holds one until its timeout); the RTT samples of nearest.rtt_interval have as many of their own"},
	{"probe.source", "", "",
		"local IP address that probes are sent from (one of this host's, for the elements' firewalls); \"\" lets the system choose"},
	{"probe.start", "last", "",
		"health of a probed element when poolnsd starts, until its probes decide: last (the last known health, kept in the data directory; unknown if none), unknown (not served until a probe passes) or up (served until probes fail)"},
	{"nearest.rtt_interval", "10s", "",
		"how often this registrar measures its own RTT to each element of a nearest pool that another registrar probes (each gap 80..100 % of it at random), a duration of at least 100ms; 0 turns it off (nearest then orders by the home's RTTs)"},
	{"reports.allow", []string{}, "",
		"client prefixes (10.1.0.0/16, 2001:db8::/32, or one address) whose failure reports need no token; still rate-limited per client (reports.rate)"},
	{"reports.max_bad", 3, "",
		"failure reports for one element within reports.window, from any pool users (one alone too), that take it out of the answers until a probe passes (RFC 5352 MAX-BAD-PE-REPORT)"},
	{"reports.window", "30s", "",
		"window of reports.max_bad, a duration (30s, 1m); longer than (max_bad - 1) × the pool users' report interval (poolclient: 10 s) so that one user's reports are enough"},
	{"reports.rate", 5, "per second",
		"failure reports one client address may send, on average"},
	{"reports.burst", 10, "",
		"failure reports one client address may send at once"},
	{"pool_defaults.policy", "rr", "",
		"policy of pools that registrations create (when the registration names none)"},
	{"pool_defaults.ttl", 5, "seconds",
		"TTL of the answers of pools that registrations create, 0..2147483647"},
	{"pool_defaults.answers", 3, "",
		"most elements in one A/AAAA answer of pools that registrations create, 1..1000"},
	{"pool_defaults.alldown", "none", "",
		"answer of pools that registrations create when none of their elements is up: none (NODATA) or all (every element, fail open)"},
	{"enrp.listen", "", "",
		"address (host:port) to peer with other registrars on (ENRP over TCP; 9901 is ENRP's port); \"\" turns peering off"},
	{"enrp.advertise", "", "",
		"address (IP:port) that peers are told to dial to reach this registrar; \"\" is enrp.listen when that is a specific IP"},
	{"enrp.peers", []string{}, "",
		"peer registrars to connect to (host:port, port 9901 if left out); more are learned from them"},
	{"enrp.tls.cert", "", "",
		"this registrar's TLS certificate for peering (PEM file; needs enrp.tls.key and enrp.tls.ca)"},
	{"enrp.tls.key", "", "",
		"the private key of enrp.tls.cert (PEM file)"},
	{"enrp.tls.ca", "", "",
		"CA certificates (PEM file) that peers' certificates must chain to: peers without one are refused"},
	{"enrp.tls.post_quantum", false, "",
		"offer the hybrid post-quantum key exchange X25519MLKEM768 on peering connections, beside X25519 (either side's choice is taken); its 1.5 KB ClientHello does not fit in a TCP Fast Open SYN, so each new connection (after a heal, a restart) takes a round trip more"},
	{"enrp.insecure", false, "",
		"peer over plain TCP, without TLS: no authentication, no privacy (logs a warning); for tests and closed networks"},
	{"enrp.presence_interval", "1s", "",
		"mean time between two PRESENCE messages to each peer (each interval ±12.5 % at random), a duration"},
	{"enrp.max_time_last_heard", "3s", "",
		"silence after which a peer is asked to answer at once (PRESENCE with reply-required), a duration"},
	{"enrp.max_time_no_response", "1s", "",
		"how long that question may go unanswered before the peer is dead and its elements are taken over, a duration"},
	{"enrp.page_size", 128, "",
		"most elements in one HANDLE_TABLE_RESPONSE, 1..1000"},
	{"enrp.handoff_timeout", "2s", "",
		"on SIGTERM with live peers, how long to wait for them to take over the elements homed here (planned hand-off) before exiting anyway; 0s: no hand-off, a duration"},
	{"enrp.sync_wait", "3s", "",
		"with enrp.peers, how long a starting registrar waits for its first handle table from a peer before it serves DNS, and how long at most a registrar that resumed from a long stop or healed from a minority answers SERVFAIL (Not Ready) until it has synced with its peers; 0s: serve at once, a duration"},
	{"health.confirm", 2, "",
		"other live registrars that probe an element to confirm a change of health that its home's probes propose (peering only), 0..16; 0 turns confirmation off"},
	{"health.quorum", 0, "",
		"vantage points (the home included) that must see a change of health for it to take effect, of those that answer within the probe timeout, 0..17; 0 is a strict majority of them"},
	{"dnssec.validity", "168h", "",
		"validity of the signatures made online (zones with keys in <data>/keys are signed), a duration, 2h..2160h; a cached signature is made again when a quarter is left"},
	{"dnssec.cache_size", 64, "MiB",
		"bound of the signature cache (keys, signatures and about 450 bytes per cached RRset: some 800 bytes for a 3-address pool answer with one P-256 signature), 1..1048576"},
	{"dnssec.dnskey_ttl", 3600, "seconds",
		"TTL of the DNSKEY RRset of signed zones (and of their CDS and CDNSKEY RRsets); a new key must be published this long before it signs (poolnsd dnssec status says when)"},
	{"dnssec.cds_off", []string{}, "",
		"signed zones whose apex publishes no CDS and CDNSKEY records (RFC 7344); the others publish those of the keys whose DS the parent should hold (poolnsd dnssec ds), for parents that update their DS from them; SIGHUP applies a change"},
	{"dnssec.cds_delete", []string{}, "",
		"signed zones whose CDS and CDNSKEY records ask the parent to delete their DS RRset (RFC 8078 §4: CDS 0 0 0 00): the first step of serving a zone unsigned; SIGHUP applies a change"},
	{"dnssec.signal_off", []string{}, "",
		"signed zones whose CDS and CDNSKEY records are not also published as DNSSEC bootstrapping signals (RFC 9615) under their name servers' names in the signed zones served here; SIGHUP applies a change"},
}

// Options returns the table of every configuration key, in documentation
// order.
func Options() []Option {
	out := slices.Clone(options)
	for i := range out {
		if s, ok := out[i].Default.([]string); ok {
			out[i].Default = slices.Clone(s)
		}
	}
	return out
}

func lookupOption(key string) (Option, bool) {
	for _, o := range options {
		if o.Key == key {
			return o, true
		}
	}
	return Option{}, false
}

// EnvPrefix starts the name of every environment variable of poolnsd.
const EnvPrefix = "POOLNSD_"

// EnvName returns the environment variable of a key:
// "dns.udp_size" → "POOLNSD_DNS_UDP_SIZE".
func EnvName(key string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// FlagName returns the command-line flag of a key: the key itself, used as
// --dns.udp_size.
func FlagName(key string) string { return key }

// ConfigFlag is the flag that names the config file.
const ConfigFlag = "config"

// DefaultFile is the config file read from the working directory when
// --config is not given.
const DefaultFile = "poolnsd.yaml"

// usage is the help text of a key's flag.
func (o Option) usage() string {
	if o.Unit != "" {
		return o.Doc + ", in " + o.Unit
	}
	return o.Doc
}

// RegisterFlags adds --config and one flag per key to fs, with the table's
// defaults and documentation. Load reads the flags that were set.
func RegisterFlags(fs *pflag.FlagSet) {
	fs.String(ConfigFlag, "", "config file (default "+DefaultFile+" in the working directory, if there is one)")
	for _, o := range options {
		name := FlagName(o.Key)
		switch d := o.Default.(type) {
		case []string:
			fs.StringSlice(name, slices.Clone(d), o.usage())
		case int:
			fs.Int(name, d, o.usage())
		case bool:
			fs.Bool(name, d, o.usage())
		case string:
			fs.String(name, d, o.usage())
		default:
			panic(fmt.Sprintf("config: option %s has a default of unsupported type %T", o.Key, d))
		}
	}
}

// yamlValue writes v as a YAML value: strings double-quoted, lists in flow
// style.
func yamlValue(v any) string {
	switch v := v.(type) {
	case string:
		return strconv.Quote(v)
	case []string:
		q := make([]string, len(v))
		for i, s := range v {
			q[i] = strconv.Quote(s)
		}
		return "[" + strings.Join(q, ", ") + "]"
	default:
		return fmt.Sprint(v)
	}
}

// WriteYAML writes the default configuration as a commented YAML file that
// Load reads back as the defaults.
func WriteYAML(w io.Writer) error {
	var b strings.Builder
	b.WriteString("# poolnsd configuration with every key at its default.\n")
	b.WriteString("# Read from --config PATH, else " + DefaultFile + " in the working directory.\n")
	b.WriteString("# Each key can also be set by an environment variable (POOLNSD_ and the key\n")
	b.WriteString("# in upper case, \"_\" for \".\") or a flag (--key); flags win over the\n")
	b.WriteString("# environment, which wins over this file.\n")
	section := ""
	for _, o := range options {
		sec, name, nested := strings.Cut(o.Key, ".")
		if !nested {
			sec, name = "", o.Key
		}
		indent := ""
		if sec != "" {
			indent = "  "
		}
		b.WriteString("\n")
		if sec != section && sec != "" {
			b.WriteString(sec + ":\n")
		}
		section = sec
		fmt.Fprintf(&b, "%s# %s.\n%s# ", indent, o.Doc, indent)
		if o.Unit != "" {
			fmt.Fprintf(&b, "in %s; ", o.Unit)
		}
		fmt.Fprintf(&b, "env %s; flag --%s\n", EnvName(o.Key), FlagName(o.Key))
		fmt.Fprintf(&b, "%s%s: %s\n", indent, name, yamlValue(o.Default))
	}
	// The keys that are not in the table, lists and maps read from the
	// file only: commented-out examples.
	fmt.Fprintf(&b, "\n# sites: %s.\n%s", SitesDoc, sitesExample)
	fmt.Fprintf(&b, "\n# tsig: %s.\n%s", TSIGKeyDoc, tsigExample)
	_, err := io.WriteString(w, b.String())
	return err
}

// sitesExample and tsigExample are the commented-out examples of the
// "sites" and "tsig" keys in WriteYAML's output.
const (
	sitesExample = `# sites:
#   fra: ["10.1.0.0/16", "2001:db8:1::/48"]
#   ams: ["10.2.0.0/16"]
#   # with sites_mmdb: the clients of a country, continent or AS, and
#   # where the site is (the nearest takes clients no rule maps)
#   iad:
#     prefixes: ["10.3.0.0/16"]
#     countries: [US, CA]
#     asns: [64500]
#     location: [38.9, -77.0]
`
	tsigExample = `# tsig:
#   - name: pe-key.
#     algorithm: hmac-sha256
#     # the secret in base64, as tsig-keygen -a hmac-sha256 pe-key. prints it
#     secret: "SECRET"
#     pools: [web]
`
)

// WriteMarkdown writes the configuration reference as a Markdown table:
// key, default (with its unit), environment variable, flag, meaning.
func WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	b.WriteString("| key | default | environment | flag | meaning |\n")
	b.WriteString("| --- | --- | --- | --- | --- |\n")
	for _, o := range options {
		def := "`" + yamlValue(o.Default) + "`"
		if o.Unit != "" {
			def += " " + o.Unit
		}
		fmt.Fprintf(&b, "| `%s` | %s | `%s` | `--%s` | %s |\n",
			o.Key, def, EnvName(o.Key), FlagName(o.Key), strings.ReplaceAll(o.Doc, "|", `\|`))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// The keys of dynamic registration (DNS UPDATE, HTTP), appended to the
// table. The "tsig" list of keys is not in the table: it is a list of
// objects, read from the config file only (see TSIGKey).
func init() {
	options = append(options, []Option{
		{"registration.lease_default", "60s", "",
			"lease of a registration that asks for none (no UPDATE-LEASE option, SRV TTL 0, no HTTP lease), a duration"},
		{"registration.lease_min", "5s", "",
			"shortest lease granted; shorter requests get this, a duration"},
		{"registration.lease_max", "24h", "",
			"longest lease granted; longer requests get this, a duration"},
		{"registration.max_per_key", 10000, "",
			"most elements one TSIG key may have registered; 0 is no limit"},
		{"registration.max_per_pool", 100000, "",
			"most registered elements one pool may hold; 0 is no limit"},
		{"registration.rate", 20, "per second",
			"registration requests (DNS UPDATE and HTTP) one source address may send, on average (RFC 5355 registration flooding)"},
		{"registration.burst", 100, "",
			"registration requests one source address may send at once"},
		{"registration.allow_loopback", false, "",
			"accept registrations (DNS UPDATE, HTTP) of elements with loopback addresses (127.0.0.0/8, ::1), which point clients and this registrar's probes at their own host: for tests and single-host setups (poolnsd demo turns it on)"},
	}...)
}
