package main

import (
	"errors"
	"syscall"

	"github.com/poolnsd/poolnsd/config"
)

// listenHint says, for an error binding a listen address, how to choose
// another: the flag, the config file key and the environment variable of
// key ("dns.listen", "http.listen"). It is "" for other errors.
func listenHint(err error, key string) string {
	set := "--" + config.FlagName(key) + " (" + key + " in " + config.DefaultFile + ", " + config.EnvName(key) + ")"
	switch {
	case errors.Is(err, syscall.EADDRINUSE):
		return "another program has this address; choose another with " + set
	case errors.Is(err, syscall.EACCES):
		return "ports below 1024 need root or CAP_NET_BIND_SERVICE; choose another address with " + set
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return "no interface of this machine has this address; choose another with " + set
	}
	return ""
}

// logListenError logs a failure to bind key's address, with the hint.
func (d *daemon) logListenError(msg, key string, err error) {
	if h := listenHint(err, key); h != "" {
		d.log.Error(msg, "err", err.Error(), "hint", h)
		return
	}
	d.log.Error(msg, "err", err.Error())
}
