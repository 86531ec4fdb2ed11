package lab

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/keeptune/keeptune/internal/netns"
)

// Node is one network namespace of a lab.
type Node struct {
	Role Role
	// Name is the namespace's name under /run/netns (`ip netns exec NAME ...` works on it).
	Name string
	// Addr is the node's address on the lab network (for the middlebox: its client side).
	Addr netip.Addr
	// Iface is the node's lab interface (for the middlebox: the client side).
	Iface string

	fd int // an open handle on the namespace; -1 once closed
}

// Do runs fn on an OS thread inside the node's network namespace and waits for it. Sockets
// fn creates belong to the namespace for good and may be used anywhere afterwards. Goroutines
// fn starts do not run in the namespace.
//
// The thread returns to its original namespace before it is unlocked. If it cannot return,
// Do leaves it locked so that Go discards the thread when the goroutine ends, and reports the
// error: nothing else ever runs in the lab namespace by accident.
func (n *Node) Do(fn func() error) error {
	if n.fd < 0 {
		return fmt.Errorf("lab: namespace %s is closed", n.Name)
	}
	return netns.DoFd(n.fd, "lab namespace "+n.Name, fn)
}

// Listen opens a TCP listener inside the node with lc (which decides its socket options).
func (n *Node) Listen(ctx context.Context, lc *net.ListenConfig, addr netip.AddrPort) (*net.TCPListener, error) {
	var ln net.Listener
	err := n.Do(func() error {
		var err error
		ln, err = lc.Listen(ctx, "tcp", addr.String())
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("lab: listen on %s in %s: %w", addr, n.Name, err)
	}
	return ln.(*net.TCPListener), nil
}

// Dial connects from inside the node with d (which decides its socket options).
func (n *Node) Dial(ctx context.Context, d *net.Dialer, addr netip.AddrPort) (*net.TCPConn, error) {
	var c net.Conn
	err := n.Do(func() error {
		var err error
		c, err = d.DialContext(ctx, "tcp", addr.String())
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("lab: dial %s from %s: %w", addr, n.Name, err)
	}
	return c.(*net.TCPConn), nil
}

// sysctlPath turns "net.ipv4.tcp_retries2" or "net/ipv4/tcp_retries2" into its /proc/sys path.
func sysctlPath(key string) (string, error) {
	key = strings.ReplaceAll(key, ".", "/")
	if !strings.HasPrefix(key, "net/") || strings.Contains(key, "..") {
		return "", fmt.Errorf("lab: %q is not a network sysctl (expected net.*)", key)
	}
	return filepath.Join("/proc/sys", key), nil
}

// SetSysctl writes a network sysctl in the node's namespace only; the host keeps its value.
func (n *Node) SetSysctl(key, value string) error {
	p, err := sysctlPath(key)
	if err != nil {
		return err
	}
	return n.Do(func() error {
		if err := os.WriteFile(p, []byte(value), 0); err != nil {
			return fmt.Errorf("lab: set %s=%s in %s: %w", key, value, n.Name, err)
		}
		return nil
	})
}

// Sysctl reads a network sysctl as the node's namespace sees it.
func (n *Node) Sysctl(key string) (string, error) {
	p, err := sysctlPath(key)
	if err != nil {
		return "", err
	}
	var v string
	err = n.Do(func() error {
		b, err := os.ReadFile(p)
		v = strings.TrimSpace(string(b))
		return err
	})
	if err != nil {
		return "", fmt.Errorf("lab: read %s in %s: %w", key, n.Name, err)
	}
	return v, nil
}

// ReadNetFile reads /proc/net/NAME (sockstat, netstat, snmp, ...) as the node's namespace
// sees it. /proc/net follows the thread group leader's namespace, so this reads
// /proc/thread-self/net on a thread inside the node.
func (n *Node) ReadNetFile(name string) ([]byte, error) {
	if strings.ContainsRune(name, '/') {
		return nil, fmt.Errorf("lab: %q is not a /proc/net file name", name)
	}
	var b []byte
	err := n.Do(func() error {
		var err error
		b, err = os.ReadFile(filepath.Join("/proc/thread-self/net", name))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("lab: read /proc/net/%s in %s: %w", name, n.Name, err)
	}
	return b, nil
}

func (n *Node) close() {
	if n.fd >= 0 {
		unix.Close(n.fd)
		n.fd = -1
	}
}
