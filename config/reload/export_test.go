package reload

import "slices"

// Keys returns the keys of config.Options that belong to part.
func Keys(part Part) []string { return slices.Clone(keys[part]) }
