package main

import "time"

// waitLimit bounds every wait for the daemon: no test sleeps, they wait for
// a log line or an exit, up to this long. Generous: under -race on a
// loaded machine a start has taken over 10 s.
const waitLimit = 30 * time.Second
