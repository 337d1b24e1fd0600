package testonly

import (
	"fmt"
	"go/token"
	"go/types"
	"sort"
	"strings"

	"golang.org/x/tools/go/packages"
)

// testOnly is one exported function or method that no production code uses.
type testOnly struct {
	Pos  token.Position // where it is declared
	Name string         // "pkg.F" or "pkg.T.M"
	// Users are the packages whose tests (or test helpers) use it, by
	// import path, sorted.
	Users []string
}

func (f testOnly) String() string { return fmt.Sprintf("%s: %s", f.Pos, f.Name) }

// key names a function across type-checks (a package's own, its test
// variant's and its importers' each have their own types.Func).
func key(fn *types.Func) string {
	if fn.Pkg() == nil {
		return ""
	}
	k := fn.Pkg().Path() + "."
	if r := fn.Signature().Recv(); r != nil {
		t := r.Type()
		if p, ok := t.(*types.Pointer); ok {
			t = p.Elem()
		}
		if n, ok := t.(*types.Named); ok {
			k += n.Obj().Name() + "."
		}
	}
	return k + fn.Name()
}

// options say what to load and how to read it.
type options struct {
	Dir      string   // the module's directory
	Patterns []string // the packages, as go list takes them ("./...")
	// Helper reports whether a package is a test helper: its non-test
	// files count as tests' code, and its own functions are not judged.
	Helper func(path string) bool
	// Public reports whether a package's API is for programs outside
	// the module (a client library): its functions are not judged.
	Public func(path string) bool
}

// find returns the exported functions and methods of the packages that
// only tests (test files, test helpers) use: no production file refers to
// them, and no interface type in sight has a method they could be
// called through.
func find(o options) ([]testOnly, error) {
	cfg := &packages.Config{
		Mode: packages.NeedName | packages.NeedFiles | packages.NeedSyntax |
			packages.NeedTypes | packages.NeedTypesInfo | packages.NeedImports,
		Dir:   o.Dir,
		Tests: true,
	}
	pkgs, err := packages.Load(cfg, o.Patterns...)
	if err != nil {
		return nil, fmt.Errorf("testonly: load: %w", err)
	}
	var errs []string
	packages.Visit(pkgs, nil, func(p *packages.Package) {
		for _, e := range p.Errors {
			errs = append(errs, e.Error())
		}
	})
	if len(errs) > 0 {
		return nil, fmt.Errorf("testonly: load: %s", strings.Join(errs, "; "))
	}
	isTest := func(p *packages.Package, pos token.Pos) bool {
		f := p.Fset.File(pos)
		return f == nil || strings.HasSuffix(f.Name(), "_test.go") || o.Helper(p.PkgPath)
	}

	used := map[string]bool{}                 // keys used from production code
	testUsers := map[string]map[string]bool{} // keys used from tests: by whom
	cands := map[string]testOnly{}            // exported functions, by key
	methods := map[string]*types.Func{}       // the methods among them
	ifaces := map[*types.Interface]bool{}     // every interface in sight
	seenPkg := map[*types.Package]bool{}
	var scan func(tp *types.Package)
	scan = func(tp *types.Package) {
		if tp == nil || seenPkg[tp] {
			return
		}
		seenPkg[tp] = true
		for _, name := range tp.Scope().Names() {
			if tn, ok := tp.Scope().Lookup(name).(*types.TypeName); ok {
				if it, ok := tn.Type().Underlying().(*types.Interface); ok {
					ifaces[it] = true
				}
			}
		}
		for _, imp := range tp.Imports() {
			scan(imp)
		}
	}
	ifaces[types.Universe.Lookup("error").Type().Underlying().(*types.Interface)] = true
	for _, it := range errorsIfaces() {
		ifaces[it] = true
	}

	for _, p := range pkgs {
		scan(p.Types)
		for _, tv := range p.TypesInfo.Types {
			if it, ok := tv.Type.Underlying().(*types.Interface); ok {
				ifaces[it] = true
			}
		}
		for id, obj := range p.TypesInfo.Uses {
			fn, ok := obj.(*types.Func)
			if !ok {
				continue
			}
			k := key(fn.Origin())
			if !isTest(p, id.Pos()) {
				used[k] = true
				continue
			}
			if testUsers[k] == nil {
				testUsers[k] = map[string]bool{}
			}
			testUsers[k][strings.TrimSuffix(p.PkgPath, "_test")] = true
		}
		// Candidates come from the package itself (not its test variant,
		// which declares the same functions again).
		if p.ID != p.PkgPath || o.Helper(p.PkgPath) || o.Public(p.PkgPath) {
			continue
		}
		for id, obj := range p.TypesInfo.Defs {
			fn, ok := obj.(*types.Func)
			if !ok || !fn.Exported() || isTest(p, id.Pos()) {
				continue
			}
			k := key(fn)
			name := strings.TrimPrefix(k, p.PkgPath+".")
			cands[k] = testOnly{Pos: p.Fset.Position(id.Pos()), Name: p.Name + "." + name}
			if fn.Signature().Recv() != nil {
				methods[k] = fn
			}
		}
	}

	var out []testOnly
	for k, f := range cands {
		if used[k] {
			continue
		}
		if m := methods[k]; m != nil && viaInterface(m, ifaces) {
			continue
		}
		for u := range testUsers[k] {
			f.Users = append(f.Users, u)
		}
		sort.Strings(f.Users)
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// viaInterface reports whether m's receiver type has m as a method of an
// interface it implements, so that a call through that interface may
// reach m.
func viaInterface(m *types.Func, ifaces map[*types.Interface]bool) bool {
	recv := m.Signature().Recv().Type()
	base := recv
	if p, ok := base.(*types.Pointer); ok {
		base = p.Elem()
	}
	ptr := types.NewPointer(base)
	for it := range ifaces {
		if it.NumMethods() == 0 {
			continue
		}
		has := false
		for i := range it.NumMethods() {
			if it.Method(i).Name() == m.Name() {
				has = true
				break
			}
		}
		if has && (types.Implements(base, it) || types.Implements(ptr, it)) {
			return true
		}
	}
	return false
}

// errorsIfaces are the interfaces package errors asserts to without
// naming them: Unwrap, Is and As methods are called through them.
func errorsIfaces() []*types.Interface {
	errT := types.Universe.Lookup("error").Type()
	anyT := types.Universe.Lookup("any").Type()
	boolT := types.Typ[types.Bool]
	one := func(name string, params, results []types.Type) *types.Interface {
		tuple := func(ts []types.Type) *types.Tuple {
			var vs []*types.Var
			for _, t := range ts {
				vs = append(vs, types.NewParam(token.NoPos, nil, "", t))
			}
			return types.NewTuple(vs...)
		}
		sig := types.NewSignatureType(nil, nil, nil, tuple(params), tuple(results), false)
		return types.NewInterfaceType([]*types.Func{types.NewFunc(token.NoPos, nil, name, sig)}, nil).Complete()
	}
	return []*types.Interface{
		one("Unwrap", nil, []types.Type{errT}),
		one("Unwrap", nil, []types.Type{types.NewSlice(errT)}),
		one("Is", []types.Type{errT}, []types.Type{boolT}),
		one("As", []types.Type{anyT}, []types.Type{boolT}),
	}
}
