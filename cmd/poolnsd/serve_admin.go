package main

import "github.com/poolnsd/poolnsd/handlespace"

// restoreAdmin puts the stored administrative states back (admin.Router's
// Restore): one log line per restored element.
func (d *daemon) restoreAdmin() error {
	restored, dropped, err := d.admin.Restore()
	if err != nil {
		return err
	}
	for _, st := range restored {
		d.log.Info("admin state restored", "pool", st.Pool, "element", handlespace.IDString(st.ID), "name", st.Label, "state", st.Admin.String())
	}
	if len(restored) > 0 || dropped > 0 {
		d.log.Info("admin states", "restored", len(restored), "dropped", dropped)
	}
	return nil
}
