// Package sdnotify tells systemd how a service is doing, through the
// notification socket that systemd names in $NOTIFY_SOCKET
// (sd_notify(3)): READY=1 once serving, RELOADING=1 and READY=1 around a
// reload, STOPPING=1 at shutdown, STATUS= a line for systemctl status.
//
// # Basics
//
// Notify sends one state (one or more "KEY=VALUE" lines) as one datagram
// to the socket of $NOTIFY_SOCKET, a path or, starting with "@", an
// abstract socket; Reloading sends RELOADING=1 with the CLOCK_MONOTONIC
// time that Type=notify-reload wants. Without the variable both do
// nothing, so a service calls them whether or not systemd runs it.
//
// # Caveats
//
// A notification is best effort: an error (no such socket, a full queue,
// a write that takes over a second) is dropped, as sd_notify's callers
// usually drop it; systemd then waits for its own timeouts.
package sdnotify

import (
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Notify sends state to systemd's notification socket, when there is one.
func Notify(state string) {
	sock := os.Getenv("NOTIFY_SOCKET")
	if sock == "" {
		return
	}
	if strings.HasPrefix(sock, "@") {
		sock = "\x00" + sock[1:] // an abstract socket
	}
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		return
	}
	defer c.Close()
	c.SetWriteDeadline(time.Now().Add(time.Second))
	c.Write([]byte(state))
}

// Reloading tells systemd that a reload begins (Type=notify-reload wants
// the CLOCK_MONOTONIC time with it); Notify("READY=1") ends it.
func Reloading() {
	var ts unix.Timespec
	if unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts) != nil {
		return
	}
	Notify(fmt.Sprintf("RELOADING=1\nMONOTONIC_USEC=%d", ts.Nano()/1000))
}
