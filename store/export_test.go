package store

// Path returns the database file's path.
func (s *Store) Path() string { return s.path }
