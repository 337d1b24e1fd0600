package zones

import (
	"io/fs"

	"github.com/poolnsd/poolnsd/handlespace"
)

// Parse reads the zone file name from fsys, with the files it includes,
// and returns its zone. Include paths are relative to the root of fsys, so
// an $INCLUDE cannot reach outside it. Messages and ZoneDef.File name the
// file as name; an included file is named by its path in fsys.
//
// Parse checks the zone on its own; LoadDir and LoadPaths also check a set
// of zones against each other. For this package's tests: the daemon loads
// zones with LoadDir and LoadPaths (the tests of other packages through
// zonestest, which uses LoadDir).
func Parse(fsys fs.FS, name string) (*handlespace.ZoneDef, error) {
	r, err := parse(fsys, name, name, func(p string) string { return p })
	if err != nil {
		return nil, err
	}
	return &r.def, nil
}
