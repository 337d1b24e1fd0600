package handlespace

import (
	"testing"

	"github.com/poolnsd/poolnsd/handlespace/internal/intern"
)

// Last returns how many of the set's elements go last in its selections
// (Element.Last).
func (s *ElementSet) Last() int { return int(s.nlast) }

// limitSites gives the test empty site tables of at most n names each;
// the process's come back at its end. Not for parallel tests.
func limitSites(t *testing.T, n uint32) {
	sites, names := siteTab, siteNameTab
	siteTab, siteNameTab = intern.New[string, string](n+1), intern.New[string, siteNameEntry](n+1)
	t.Cleanup(func() { siteTab, siteNameTab = sites, names })
}
