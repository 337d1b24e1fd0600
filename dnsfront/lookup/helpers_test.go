package lookup

import "github.com/poolnsd/poolnsd/internal/hstest"

// newTestSpace is the handlespace that dnsfront's handler tests query too.
var newTestSpace = hstest.Space
