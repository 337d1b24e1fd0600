package probe

import "sync"

// parsedCache keeps parsed targets by their text, so that a checker does
// not parse its target on every probe. It holds at most maxParsed entries;
// beyond that, targets are parsed each time.
type parsedCache[T any] struct {
	mu sync.RWMutex
	m  map[string]T
}

const maxParsed = 4096

func (c *parsedCache[T]) get(s string, parse func(string) (T, error)) (T, error) {
	c.mu.RLock()
	v, ok := c.m[s]
	c.mu.RUnlock()
	if ok {
		return v, nil
	}
	v, err := parse(s)
	if err != nil {
		return v, err
	}
	c.mu.Lock()
	if c.m == nil {
		c.m = map[string]T{}
	}
	if len(c.m) < maxParsed {
		c.m[s] = v
	}
	c.mu.Unlock()
	return v, nil
}
