package main

import (
	"testing"

	"github.com/poolnsd/poolnsd/handlespace"
)

// goodZone is a zone file with one pool of two elements.
const goodZone = `$ORIGIN pool.example.
$TTL 300
@      SOA ns1 hostmaster 1 3600 600 86400 5
@      NS  ns1
ns1    A   192.0.2.53

$POOL web policy=rr ttl=5 answers=3
web    PE 10.0.0.1:8080
web    PE 10.0.0.2:8080
`

// badZone has an unknown policy on line 7.
const badZone = `$ORIGIN pool.example.
$TTL 300
@      SOA ns1 hostmaster 1 3600 600 86400 5
@      NS  ns1
ns1    A   192.0.2.53

$POOL web policy=lru ttl=5 answers=3
web    PE 10.0.0.1:8080
`

func TestCountDefs(t *testing.T) {
	defs := []handlespace.ZoneDef{
		{Pools: []handlespace.PoolDef{{Elements: make([]*handlespace.Element, 2)}, {}}},
		{},
	}
	if got := countDefs(defs); got != (counts{zones: 2, pools: 2, elements: 2}) {
		t.Errorf("countDefs = %+v", got)
	}
}
