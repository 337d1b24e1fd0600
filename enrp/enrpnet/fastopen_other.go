//go:build !linux

package enrpnet

import (
	"net"
	"syscall"
)

// listenControl and dialControl: TCP Fast Open is used on Linux only.
func listenControl(_, _ string, _ syscall.RawConn) error { return nil }
func dialControl(_, _ string, _ syscall.RawConn) error   { return nil }

// fastOpened: TCP Fast Open is used on Linux only.
func fastOpened(net.Conn) bool { return false }
