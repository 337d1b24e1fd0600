// Package reload plans what a reload of the configuration (SIGHUP)
// changes in a running poolnsd: which of the changed keys apply live, in
// which parts of the server, and which keep their running values until a
// restart. It does no I/O: the daemon applies each part, tells the plan
// which failed, and logs what the plan says was applied.
//
// # Basics
//
// New compares the running configuration with the one just loaded. The
// parts that a reload can change live are the log level, the query log,
// the JSON API's credentials (http.token, http.report_token,
// reports.allow: the API's handler is rebuilt), the TSIG keys, the DNS
// front's protections (cookies, NSID, version, allow_query, rate
// limiting), the site map (sites, its geography, sites_mmdb) and the
// signed zones' CDS records (dnssec.cds_off, dnssec.cds_delete). Every
// other changed key is in Restart. Changed says whether a part has
// changed keys; Carry copies a part's keys from the loaded configuration
// into the running one, once the part is applied; Failed takes a part
// that could not be applied out of Applied, and Applied lists what the
// reload changed for the log. Apply does the three for the daemon: it
// calls each changed part's Applier in order, then carries the part or
// marks it failed.
//
// # Caveats
//
// A part the daemon cannot change live (the API when it serves none) is
// given as such to New, and its keys are then in Restart. The TSIG keys,
// the "sites" map and sites_geo are not keys of config.Options: Applied
// names them "tsig" and "sites".
package reload
