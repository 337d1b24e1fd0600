// Command poolnsd is a pool registrar with a DNS face: it serves the pools
// that zone files and registrations define to any DNS client.
//
// Usage:
//
//	poolnsd serve [flags]               serve DNS and HTTP until SIGTERM or SIGINT
//	poolnsd check [flags] [FILE|DIR...] check zone files and exit
//	poolnsd config [--markdown]         print the default configuration
//	poolnsd status [--server URL]       print the server's pools and elements
//	poolnsd drain|undrain POOL ELEMENT  take an element out of the answers, or back
//	poolnsd dnssec keygen|ds|status ...  DNSSEC keys of signed zones
//	poolnsd demo                        a demo pool of local HTTP backends
//	poolnsd version                     print the version
//
// Exit status: 0 success; 1 check found errors in zone files, or status
// found a pool that serves none of its elements; 2 bad command line or
// configuration; 3 failure at run time (the store cannot be opened, the
// zones cannot be loaded at start, a socket cannot be bound; the server
// cannot be reached); 4 drain named an unknown pool or element; 5 the
// server refused the token.
package main

import "os"

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }
