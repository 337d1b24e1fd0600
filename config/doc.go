// Package config is poolnsd's runtime configuration: the keys, their
// defaults and documentation, and Load, which merges the sources.
//
// # Basics
//
// Every setting is a key in one table (Options): its dotted name, its
// default (which also gives its type), its unit and one line of
// documentation. The command-line flags (RegisterFlags), the `poolnsd
// config` output (WriteYAML, WriteMarkdown) and Defaults are all generated
// from that table, so a key is added in one place.
//
// Load merges, lowest first: the defaults, the config file (--config PATH,
// else poolnsd.yaml in the working directory if there is one), the
// environment (POOLNSD_ and the key in upper case with "_" for ".", as in
// POOLNSD_DNS_UDP_SIZE), and the flags (--dns.udp_size). It returns a
// Config, a plain value that the daemon replaces whole, never edits.
//
// A reload compares the running Config with a new one: Changed lists the
// keys whose values differ, TSIGChanges the TSIG keys added, removed and
// changed (by name, never a secret); which of them apply without a
// restart is the daemon's choice.
//
// # Caveats
//
// Unknown keys in the config file are errors; unknown POOLNSD_ environment
// variables are only warnings, since an environment is shared with other
// software and versions. Every error is one line that names the key (and
// the file, for file errors); Load joins several with newlines. Viper reads
// the environment of the process (os.LookupEnv), so tests set it with
// t.Setenv.
package config
