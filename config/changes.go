package config

import (
	"bytes"
	"reflect"
	"slices"
	"strings"

	"github.com/miekg/dns"
)

// Changed returns the keys of Options whose values differ between old and
// now, in the order of Options: what a reload compares to tell the keys it
// applies from those that wait for a restart. The TSIG keys, the "sites"
// map and sites_geo are not keys of Options; TSIGChanges compares the
// first.
func Changed(old, now Config) []string {
	o, n := keyValues(old), keyValues(now)
	var out []string
	for _, opt := range options {
		if !reflect.DeepEqual(o[opt.Key], n[opt.Key]) {
			out = append(out, opt.Key)
		}
	}
	return out
}

// keyValues flattens c into its keys' values, by the mapstructure tags
// (which are the keys of Options).
func keyValues(c Config) map[string]any {
	out := map[string]any{}
	var walk func(prefix string, v reflect.Value)
	walk = func(prefix string, v reflect.Value) {
		t := v.Type()
		for i := range t.NumField() {
			tag := t.Field(i).Tag.Get("mapstructure")
			if tag == "" || tag == "-" {
				continue
			}
			if f := v.Field(i); f.Kind() == reflect.Struct {
				walk(prefix+tag+".", f)
			} else {
				out[prefix+tag] = f.Interface()
			}
		}
	}
	walk("", reflect.ValueOf(c))
	return out
}

// TSIGChanges compares two lists of TSIG keys by name (lower case, with
// the final dot) and returns, sorted, the names added, the names removed
// and, for the keys in both that differ, "NAME (what)", what being
// algorithm, secret and pools as they changed. It never returns a secret,
// so that its results can be logged. The slices are empty, not nil, when
// nothing is in them.
func TSIGChanges(old, now []TSIGKey) (added, removed, changed []string) {
	index := func(keys []TSIGKey) map[string]TSIGKey {
		m := make(map[string]TSIGKey, len(keys))
		for _, k := range keys {
			m[strings.ToLower(dns.Fqdn(k.Name))] = k
		}
		return m
	}
	o, n := index(old), index(now)
	added, removed, changed = []string{}, []string{}, []string{}
	for name, nk := range n {
		ok, had := o[name]
		if !had {
			added = append(added, name)
			continue
		}
		var what []string
		if ok.TSIGAlgorithm() != nk.TSIGAlgorithm() {
			what = append(what, "algorithm")
		}
		if !bytes.Equal(ok.SecretBytes(), nk.SecretBytes()) {
			what = append(what, "secret")
		}
		if !slices.Equal(ok.Pools, nk.Pools) {
			what = append(what, "pools")
		}
		if len(what) > 0 {
			changed = append(changed, name+" ("+strings.Join(what, ", ")+")")
		}
	}
	for name := range o {
		if _, ok := n[name]; !ok {
			removed = append(removed, name)
		}
	}
	slices.Sort(added)
	slices.Sort(removed)
	slices.Sort(changed)
	return added, removed, changed
}
