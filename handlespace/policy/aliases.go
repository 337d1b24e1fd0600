package policy

import (
	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/handlespace/internal/ptree"
)

// The policies read a set's trees (handlespace.Set) through package
// ptree's API; the nodes' layout is ptree's own.
type (
	tree  = ptree.Tree[handlespace.Element]
	tnode = ptree.Node[handlespace.Element]
)
