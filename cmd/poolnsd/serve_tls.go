package main

// reloadTLS reads the DNS over TLS certificate and key again (SIGHUP): a
// renewed certificate is served to new connections without a restart; on
// error the last good one stays and the error is logged.
func (d *daemon) reloadTLS() {
	if d.dns == nil || len(d.dns.TLSAddrs()) == 0 {
		return
	}
	if err := d.dns.ReloadTLS(); err != nil {
		d.log.Error("DNS over TLS certificate not reloaded; serving the last good one", "err", err.Error())
		return
	}
	d.log.Info("DNS over TLS certificate reloaded", "cert", d.cfg.DNS.TLS.Cert)
}
