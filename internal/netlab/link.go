package netlab

import (
	"encoding/binary"
	"fmt"
	"net"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// setLink sets link name of the namespace up or down over rtnetlink
// (RTM_NEWLINK) and returns the time just after the kernel acknowledged
// it: the change is made by then. ip(8) would do the same, but its
// process takes 30 ms to a second to return around the change (it enters
// the namespace, mounts sysfs, and its mount namespace is torn down on
// exit), which a test that counts from the change cannot tell apart.
func (n *ns) setLink(name string, up bool) (time.Time, error) {
	var at time.Time
	err := n.Do(func() error {
		ifi, err := net.InterfaceByName(name)
		if err != nil {
			return fmt.Errorf("netlab: link %s in %s: %v", name, n.name, err)
		}
		fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
		if err != nil {
			return fmt.Errorf("netlab: netlink socket in %s: %v", n.name, err)
		}
		defer unix.Close(fd)
		if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
			return fmt.Errorf("netlab: netlink bind in %s: %v", n.name, err)
		}
		var flags uint32
		if up {
			flags = unix.IFF_UP
		}
		// struct nlmsghdr, then struct ifinfomsg.
		b := make([]byte, unix.SizeofNlMsghdr+unix.SizeofIfInfomsg)
		ne := binary.NativeEndian
		ne.PutUint32(b[0:], uint32(len(b)))
		ne.PutUint16(b[4:], unix.RTM_NEWLINK)
		ne.PutUint16(b[6:], unix.NLM_F_REQUEST|unix.NLM_F_ACK)
		ne.PutUint32(b[8:], 1) // sequence
		i := b[unix.SizeofNlMsghdr:]
		i[0] = unix.AF_UNSPEC
		ne.PutUint32(i[4:], uint32(ifi.Index))
		ne.PutUint32(i[8:], flags)
		ne.PutUint32(i[12:], unix.IFF_UP) // change mask
		if err := unix.Sendto(fd, b, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
			return fmt.Errorf("netlab: set link %s in %s: %v", name, n.name, err)
		}
		buf := make([]byte, 4096)
		for range 16 { // the acknowledgement, after anything else sent to this socket
			k, _, err := unix.Recvfrom(fd, buf, 0)
			if err != nil {
				return fmt.Errorf("netlab: set link %s in %s: %v", name, n.name, err)
			}
			at = time.Now()
			msgs, err := syscall.ParseNetlinkMessage(buf[:k])
			if err != nil {
				return fmt.Errorf("netlab: set link %s in %s: %v", name, n.name, err)
			}
			for _, m := range msgs {
				if m.Header.Type != unix.NLMSG_ERROR || m.Header.Seq != 1 || len(m.Data) < 4 {
					continue
				}
				if code := int32(ne.Uint32(m.Data)); code != 0 {
					return fmt.Errorf("netlab: set link %s in %s: %v", name, n.name, syscall.Errno(-code))
				}
				return nil
			}
		}
		return fmt.Errorf("netlab: set link %s in %s: no acknowledgement", name, n.name)
	})
	return at, err
}
