package prefixset

// MustParse is Parse that panics on error, for the tests.
func MustParse(list ...string) *Set {
	s, err := Parse(list)
	if err != nil {
		panic(err)
	}
	return s
}
