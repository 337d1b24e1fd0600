package sdnotify_test

import (
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/poolnsd/poolnsd/internal/sdnotify"
	"golang.org/x/sys/unix"
)

// listen makes a notification socket at name (a path, or "@..." for an
// abstract one) and returns a function that reads the next datagram.
func listen(t *testing.T, name string) func() string {
	t.Helper()
	addr := name
	if strings.HasPrefix(name, "@") {
		addr = "\x00" + name[1:]
	}
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: addr, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return func() string {
		t.Helper()
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		b := make([]byte, 512)
		n, err := c.Read(b)
		if err != nil {
			t.Fatalf("no notification: %v", err)
		}
		return string(b[:n])
	}
}

func TestNotify(t *testing.T) {
	for _, name := range []string{
		filepath.Join(t.TempDir(), "notify"),
		"@poolnsd-sdnotify-test-" + strconv.Itoa(unix.Getpid()),
	} {
		read := listen(t, name)
		t.Setenv("NOTIFY_SOCKET", name)
		sdnotify.Notify("READY=1\nSTATUS=serving")
		if got := read(); got != "READY=1\nSTATUS=serving" {
			t.Errorf("%s: got %q", name, got)
		}
		var before unix.Timespec
		if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &before); err != nil {
			t.Fatal(err)
		}
		sdnotify.Reloading()
		got := read()
		usec, ok := strings.CutPrefix(got, "RELOADING=1\nMONOTONIC_USEC=")
		n, err := strconv.ParseInt(usec, 10, 64)
		if !ok || err != nil || n < before.Nano()/1000 {
			t.Errorf("%s: reloading sent %q, want RELOADING=1 and a monotonic time from %d µs", name, got, before.Nano()/1000)
		}
	}
}
