package zones

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/miekg/dns"
	"github.com/poolnsd/poolnsd/handlespace"
)

// LoadDir parses every regular file named *.zone directly in dir (not in
// its subdirectories), in name order, through os.DirFS(dir): $INCLUDE
// paths are relative to dir and cannot leave it, and included files may
// have any name. Other files are ignored. Messages name files dir/NAME.
//
// Besides each file's own checks, the zones are checked as a set the way
// handlespace.ApplyZones checks them: an origin defined by two files is an
// error. Problems of several files are joined with errors.Join, one line
// each. A directory without a *.zone file is an error.
func LoadDir(dir string) ([]handlespace.ZoneDef, error) {
	srcs, err := dirSources(dir)
	if err != nil {
		return nil, err
	}
	return load(srcs)
}

// LoadPaths loads the zone files that paths name, as `poolnsd check` does:
// a directory stands for its *.zone files (as LoadDir reads them), a file
// for itself whatever its name, read with its own directory as the root
// for $INCLUDE. A file named twice is read once. The zones are checked as
// one set, as LoadDir checks them.
func LoadPaths(paths ...string) ([]handlespace.ZoneDef, error) {
	if len(paths) == 0 {
		return nil, errors.New("no zone files given; want one or more files or directories")
	}
	var srcs []source
	var errs []error
	for _, pth := range paths {
		st, err := os.Stat(pth)
		if err != nil {
			errs = append(errs, &Error{File: pth, Msg: "cannot read: " + pathReason(err) + "; want a zone file or a directory of them"})
			continue
		}
		if st.IsDir() {
			s, err := dirSources(pth)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			srcs = append(srcs, s...)
			continue
		}
		dir := filepath.Dir(pth)
		srcs = append(srcs, source{root: dir, fsys: os.DirFS(dir), name: filepath.Base(pth), display: pth})
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	// Read each file once, whichever way it was named.
	seen := map[string]bool{}
	uniq := srcs[:0]
	for _, s := range srcs {
		key, err := filepath.Abs(filepath.Join(s.root, s.name))
		if err != nil {
			key = filepath.Join(s.root, s.name)
		}
		if !seen[key] {
			seen[key] = true
			uniq = append(uniq, s)
		}
	}
	return load(uniq)
}

// source is a zone file to read: name in fsys, rooted at root.
type source struct {
	root    string
	fsys    fs.FS
	name    string
	display string
}

func dirSources(dir string) ([]source, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, &Error{File: dir, Msg: "cannot read the directory: " + pathReason(err) + "; want a directory of *.zone files"}
	}
	fsys := os.DirFS(dir)
	var srcs []source
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".zone") || e.Name() == ".zone" {
			continue
		}
		// A symbolic link counts when it leads to a regular file.
		st, err := fs.Stat(fsys, e.Name())
		if err != nil || !st.Mode().IsRegular() {
			continue
		}
		srcs = append(srcs, source{root: dir, fsys: fsys, name: e.Name(), display: filepath.Join(dir, e.Name())})
	}
	if len(srcs) == 0 {
		return nil, fmt.Errorf("no *.zone files in %s; want at least one zone file named NAME.zone there", dir)
	}
	sort.Slice(srcs, func(i, j int) bool { return srcs[i].name < srcs[j].name })
	return srcs, nil
}

func pathReason(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// load parses the sources and checks them as a set.
func load(srcs []source) ([]handlespace.ZoneDef, error) {
	var errs []error
	var rs []*result
	for _, s := range srcs {
		root := s.root
		r, err := parse(s.fsys, s.name, s.display, func(p string) string { return filepath.Join(root, filepath.FromSlash(p)) })
		if err != nil {
			errs = append(errs, err)
			continue
		}
		rs = append(rs, r)
	}
	errs = append(errs, checkSet(rs)...)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	defs := make([]handlespace.ZoneDef, len(rs))
	for i, r := range rs {
		defs[i] = r.def
	}
	return defs, nil
}

// checkSet checks zones against each other: each origin once, and no zone
// inside a pool of another (its names would hide the pool's).
func checkSet(rs []*result) []error {
	var errs []error
	byOrigin := map[string]*result{}
	type poolAt struct {
		zone *result
		at   pos
	}
	pools := map[string]poolAt{}
	for _, r := range rs {
		if prev := byOrigin[r.def.Origin]; prev != nil {
			errs = append(errs, errf(r.soa, "zone %s is already defined in %s; want each zone in one file", r.def.Origin, prev.soa.ref("")))
			continue
		}
		byOrigin[r.def.Origin] = r
		for name, at := range r.pools {
			pools[name] = poolAt{r, at}
		}
	}
	for _, r := range rs {
		if byOrigin[r.def.Origin] != r {
			continue
		}
		// The origin and each of its ancestors.
		for n := r.def.Origin; ; {
			if pa, ok := pools[n]; ok && pa.zone != r {
				errs = append(errs, errf(r.soa, "zone %s is inside pool %s of zone %s (%s); want zones outside the names of pools",
					r.def.Origin, strings.TrimSuffix(n, "."+pa.zone.def.Origin), pa.zone.def.Origin, pa.at.ref("")))
				break
			}
			// The next label: a dot inside an escaped label (`a\.b`) is
			// not one (dns.NextLabel skips it).
			i, end := dns.NextLabel(n, 0)
			if end {
				break
			}
			n = n[i:]
		}
	}
	return errs
}
