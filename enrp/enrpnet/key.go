package enrpnet

import "github.com/poolnsd/poolnsd/enrp/table"

// key names an element: its pool (lower-case FQDN) and identifier, as
// the Node's table does.
type key = table.Key
