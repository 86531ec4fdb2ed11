package keepalive

import (
	"context"
	"errors"
	"math"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// These tests use real sockets on 127.0.0.1 and [::1] only.

type family struct {
	name    string // subtest name
	network string
	addr    string
}

var families = []family{
	{"ipv4", "tcp4", "127.0.0.1:0"},
	{"ipv6", "tcp6", "[::1]:0"},
}

func skipIfUnavailable(t *testing.T, f family) {
	t.Helper()
	ln, err := net.Listen(f.network, f.addr)
	if err != nil {
		t.Skipf("%s loopback not available: %v", f.name, err)
	}
	ln.Close()
}

// conns listens with lc, dials the listener with d and returns the
// listener, the dialed and the accepted connection.
func conns(t *testing.T, f family, lc *net.ListenConfig, d *net.Dialer) (ln *net.TCPListener, dialed, accepted *net.TCPConn) {
	t.Helper()
	l, err := lc.Listen(context.Background(), f.network, f.addr)
	if err != nil {
		t.Fatalf("Listen: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	c, err := d.Dial(f.network, l.Addr().String())
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	a, err := l.Accept()
	if err != nil {
		t.Fatalf("Accept: %v", err)
	}
	t.Cleanup(func() { a.Close() })
	return l.(*net.TCPListener), c.(*net.TCPConn), a.(*net.TCPConn)
}

func mustRead(t *testing.T, what string, c syscall.Conn) Effective {
	t.Helper()
	e, err := Read(c)
	if err != nil {
		t.Fatalf("Read(%s): %v", what, err)
	}
	return e
}

// sysctl reads an integer from /proc/sys/net/ipv4 (the test's namespace,
// which is also the sockets' namespace).
func sysctl(t *testing.T, name string) int {
	t.Helper()
	b, err := os.ReadFile("/proc/sys/net/ipv4/" + name)
	if err != nil {
		t.Skipf("cannot read the namespace default: %v", err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return n
}

// want is what the kernel should report for a socket configured with c:
// the namespace defaults stand in for zero fields.
func want(t *testing.T, c Config) Effective {
	e := Effective{Enabled: true, Idle: c.Idle, Interval: c.Interval, Count: c.Count, UserTimeout: c.UserTimeout}
	if e.Idle == 0 {
		e.Idle = time.Duration(sysctl(t, "tcp_keepalive_time")) * time.Second
	}
	if e.Interval == 0 {
		e.Interval = time.Duration(sysctl(t, "tcp_keepalive_intvl")) * time.Second
	}
	if e.Count == 0 {
		e.Count = sysctl(t, "tcp_keepalive_probes")
	}
	return e
}

func protocol(t *testing.T, c syscall.Conn) int {
	t.Helper()
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var p int
	var perr error
	if err := rc.Control(func(fd uintptr) { p, perr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_PROTOCOL) }); err != nil {
		t.Fatal(err)
	}
	if perr != nil {
		t.Fatalf("SO_PROTOCOL: %v", perr)
	}
	return p
}

var configs = []struct {
	name string
	c    Config
}{
	{"all", Config{Idle: 600 * time.Second, Interval: 7 * time.Second, Count: 3, UserTimeout: 5 * time.Second}},
	{"keepalive only", Config{Idle: 600 * time.Second, Interval: 7 * time.Second, Count: 3}},
	{"cloudflare", Config{Idle: time.Second, Interval: 11 * time.Second, UserTimeout: 5 * time.Second}},
	{"limits", Config{Idle: 32767 * time.Second, Interval: 32767 * time.Second, Count: 127, UserTimeout: math.MaxInt32 * time.Millisecond}},
	{"idle only", Config{Idle: 600 * time.Second}},
	{"zero", Config{}},
}

// The helpers' sockets read back exactly the Config on the listening, the
// dialed and the accepted socket; zero fields read back the namespace
// defaults.
func TestHelpersReadBack(t *testing.T) {
	for _, f := range families {
		t.Run(f.name, func(t *testing.T) {
			skipIfUnavailable(t, f)
			for _, tc := range configs {
				t.Run(tc.name, func(t *testing.T) {
					w := want(t, tc.c)
					ln, dialed, accepted := conns(t, f, tc.c.ListenConfig(nil), tc.c.Dialer(nil))
					for _, s := range []struct {
						what string
						conn syscall.Conn
					}{{"listener", ln}, {"dialed", dialed}, {"accepted", accepted}} {
						got, err := Read(s.conn)
						if err != nil && s.what == "listener" && protocol(t, ln) == unix.IPPROTO_MPTCP && errors.Is(err, ErrUnsupported) {
							// MPTCP sockets have no TCP_USER_TIMEOUT; see TestMPTCP.
							got.UserTimeout = w.UserTimeout
						} else if err != nil {
							t.Fatalf("Read(%s): %v", s.what, err)
						}
						if got != w {
							t.Errorf("%s: Read = %+v, want %+v", s.what, got, w)
						}
					}
				})
			}
		})
	}
}

// Without the helpers, the net package overwrites what Control set with its
// own 15s/15s/9 on the dialed and on the accepted socket. It does not touch
// TCP_USER_TIMEOUT, and the listening socket keeps the Control values.
func TestNetOverwritesPlainControl(t *testing.T) {
	c := Config{Idle: 600 * time.Second, Interval: 7 * time.Second, Count: 3, UserTimeout: 5 * time.Second}
	goDefault := Effective{Enabled: true, Idle: 15 * time.Second, Interval: 15 * time.Second, Count: 9, UserTimeout: 5 * time.Second}
	for _, f := range families {
		t.Run(f.name, func(t *testing.T) {
			skipIfUnavailable(t, f)
			ln, dialed, accepted := conns(t, f, &net.ListenConfig{Control: c.Control}, &net.Dialer{Control: c.Control})
			if got := mustRead(t, "dialed", dialed); got != goDefault {
				t.Errorf("dialed: Read = %+v, want Go's defaults %+v", got, goDefault)
			}
			if got := mustRead(t, "accepted", accepted); got != goDefault {
				t.Errorf("accepted: Read = %+v, want Go's defaults %+v", got, goDefault)
			}
			if got, w := mustRead(t, "listener", ln), want(t, c); got != w {
				t.Errorf("listener: Read = %+v, want %+v", got, w)
			}
		})
	}
}

// Control and Dialer chain after a base Control, which therefore sees
// (and may set) the socket before the keepalive options are applied.
func TestChainedControlRuns(t *testing.T) {
	f := families[0]
	var dialedBase, listenBase int
	d := Config{Idle: 600 * time.Second}.Dialer(&net.Dialer{
		ControlContext: func(context.Context, string, string, syscall.RawConn) error { dialedBase++; return nil },
	})
	lc := Config{Idle: 500 * time.Second}.ListenConfig(&net.ListenConfig{
		Control: func(string, string, syscall.RawConn) error { listenBase++; return nil },
	})
	_, dialed, accepted := conns(t, f, lc, d)
	if dialedBase == 0 || listenBase == 0 {
		t.Errorf("base functions ran %d (dial) and %d (listen) times, want both > 0", dialedBase, listenBase)
	}
	if got := mustRead(t, "dialed", dialed).Idle; got != 600*time.Second {
		t.Errorf("dialed Idle = %v, want 10m0s", got)
	}
	if got := mustRead(t, "accepted", accepted).Idle; got != 500*time.Second {
		t.Errorf("accepted Idle = %v, want 8m20s", got)
	}
}

// Apply on connections from a plain Dialer and ListenConfig: zero fields
// leave what the net package set (15s/15s/9, no user timeout).
func TestApply(t *testing.T) {
	for _, f := range families {
		t.Run(f.name, func(t *testing.T) {
			skipIfUnavailable(t, f)
			for _, tc := range configs {
				w := Effective{Enabled: true, Idle: 15 * time.Second, Interval: 15 * time.Second, Count: 9}
				if tc.c.Idle != 0 {
					w.Idle = tc.c.Idle
				}
				if tc.c.Interval != 0 {
					w.Interval = tc.c.Interval
				}
				if tc.c.Count != 0 {
					w.Count = tc.c.Count
				}
				w.UserTimeout = tc.c.UserTimeout
				_, dialed, accepted := conns(t, f, &net.ListenConfig{}, &net.Dialer{})
				for _, s := range []struct {
					what string
					conn *net.TCPConn
				}{{"dialed", dialed}, {"accepted", accepted}} {
					if err := Apply(s.conn, tc.c); err != nil {
						t.Fatalf("%s: Apply(%s): %v", tc.name, s.what, err)
					}
					if got := mustRead(t, s.what, s.conn); got != w {
						t.Errorf("%s: %s: Read = %+v, want %+v", tc.name, s.what, got, w)
					}
				}
				// An invalid Config changes nothing.
				if err := Apply(dialed, Config{Idle: 43 * time.Second, Count: 500}); !errors.Is(err, ErrInvalidConfig) {
					t.Errorf("Apply(Count 500) = %v, want ErrInvalidConfig", err)
				}
				if got := mustRead(t, "dialed", dialed); got != w {
					t.Errorf("%s: after a rejected Apply: Read = %+v, want %+v", tc.name, got, w)
				}
			}
		})
	}
}

// Config{} on a raw socket that Go has not touched reads back the
// namespace's sysctls, and turns SO_KEEPALIVE on.
func TestZeroConfigKeepsNamespaceDefaults(t *testing.T) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	file := os.NewFile(uintptr(fd), "tcp socket")
	defer file.Close()
	before := mustRead(t, "new socket", file)
	w := want(t, Config{})
	w.Enabled = false
	if before != w {
		t.Errorf("new socket: Read = %+v, want %+v", before, w)
	}
	if err := Apply(file, Config{}); err != nil {
		t.Fatal(err)
	}
	w.Enabled = true
	if got := mustRead(t, "after Apply", file); got != w {
		t.Errorf("after Apply(Config{}): Read = %+v, want %+v", got, w)
	}
}

// The kernel's limits are the ones Validate enforces: each value at the
// limit is accepted by setsockopt, one past it (and 0 for the keepalive
// options) is EINVAL.
func TestKernelLimits(t *testing.T) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	tests := []struct {
		opt     sockopt
		value   int
		ok      bool
		field   Config
		comment string
	}{
		{tcpKeepIdle, 32767, true, Config{Idle: 32767 * time.Second}, ""},
		{tcpKeepIdle, 32768, false, Config{Idle: 32768 * time.Second}, ""},
		{tcpKeepIdle, 0, false, Config{}, "zero cannot be set: Config uses it for 'leave as is'"},
		{tcpKeepIntvl, 32767, true, Config{Interval: 32767 * time.Second}, ""},
		{tcpKeepIntvl, 32768, false, Config{Interval: 32768 * time.Second}, ""},
		{tcpKeepIntvl, 0, false, Config{}, ""},
		{tcpKeepCnt, 127, true, Config{Count: 127}, ""},
		{tcpKeepCnt, 128, false, Config{Count: 128}, ""},
		{tcpKeepCnt, 0, false, Config{}, ""},
		{tcpUserTimeout, math.MaxInt32, true, Config{UserTimeout: math.MaxInt32 * time.Millisecond}, ""},
		{tcpUserTimeout, math.MaxInt32 + 1, false, Config{UserTimeout: (math.MaxInt32 + 1) * time.Millisecond},
			"the kernel reads a C int, so 2^31 ms (a valid uint32) is negative"},
		{tcpUserTimeout, 0, true, Config{}, "0 resets to no user timeout"},
	}
	for _, tt := range tests {
		err := tt.opt.set(uintptr(fd), tt.value)
		if tt.ok && err != nil {
			t.Errorf("%s = %d: %v, want success", tt.opt.name, tt.value, err)
		}
		if !tt.ok && !errors.Is(err, unix.EINVAL) {
			t.Errorf("%s = %d: %v, want EINVAL", tt.opt.name, tt.value, err)
		}
		if tt.field != (Config{}) {
			if vErr := tt.field.Validate(); (vErr == nil) != tt.ok {
				t.Errorf("%+v.Validate() = %v, but the kernel says ok=%v", tt.field, vErr, tt.ok)
			}
		}
	}
}

// Errors name the option and keep the errno.
func TestSetErrorNamesOption(t *testing.T) {
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	err = Apply(pc.(*net.UDPConn), Config{Count: 3})
	var oe *OptionError
	if !errors.As(err, &oe) || oe.Op != "set" || oe.Option != "TCP_KEEPCNT" {
		t.Fatalf("Apply on UDP = %v, want an OptionError for set TCP_KEEPCNT", err)
	}
	if !strings.HasPrefix(err.Error(), "keepalive: set TCP_KEEPCNT: ") {
		t.Errorf("error %q does not start with %q", err, "keepalive: set TCP_KEEPCNT: ")
	}
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		t.Errorf("error %v does not carry the errno", err)
	}
	t.Logf("Apply(Count) on a UDP socket: %v", err)

	// The ListenConfig helper leaves UDP sockets alone.
	lc := Config{Count: 3}.ListenConfig(nil)
	pc2, err := lc.ListenPacket(context.Background(), "udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("ListenPacket with the helper: %v", err)
	}
	pc2.Close()

	// A closed connection.
	ln, dialed, _ := conns(t, families[0], &net.ListenConfig{}, &net.Dialer{})
	ln.Close()
	dialed.Close()
	if err := Apply(dialed, Config{Count: 3}); err == nil {
		t.Error("Apply on a closed connection succeeded")
	}
	if _, err := Read(dialed); err == nil {
		t.Error("Read on a closed connection succeeded")
	}
}

// Since Go 1.24 listeners are MPTCP when the kernel allows it. MPTCP
// sockets take the keepalive options but not TCP_USER_TIMEOUT: without a
// UserTimeout the helper's listener is MPTCP; with one, Control fails on the
// MPTCP socket and the net package falls back to plain TCP.
func TestMPTCP(t *testing.T) {
	f := families[0]
	c := Config{Idle: 600 * time.Second, Interval: 7 * time.Second, Count: 3}
	ln, _, accepted := conns(t, f, c.ListenConfig(nil), c.Dialer(nil))
	if protocol(t, ln) != unix.IPPROTO_MPTCP {
		t.Skip("the listener is not MPTCP (kernel without MPTCP, net.mptcp.enabled=0 or GODEBUG=multipathtcp=0)")
	}
	got, err := Read(ln)
	if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "get TCP_USER_TIMEOUT") {
		t.Errorf("Read(MPTCP listener) error = %v, want get TCP_USER_TIMEOUT matching ErrUnsupported", err)
	}
	if w := want(t, c); got != w {
		t.Errorf("Read(MPTCP listener) = %+v, want %+v", got, w)
	}
	if got, w := mustRead(t, "accepted", accepted), want(t, c); got != w {
		t.Errorf("accepted from MPTCP listener: Read = %+v, want %+v", got, w)
	}

	// Setting TCP_USER_TIMEOUT on an MPTCP socket: ENOPROTOOPT, unsupported.
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, unix.IPPROTO_MPTCP)
	if err != nil {
		t.Fatal(err)
	}
	file := os.NewFile(uintptr(fd), "mptcp socket")
	defer file.Close()
	err = Apply(file, Config{UserTimeout: time.Second})
	if !errors.Is(err, ErrUnsupported) || !errors.Is(err, unix.ENOPROTOOPT) {
		t.Errorf("Apply(UserTimeout) on MPTCP = %v, want ENOPROTOOPT matching ErrUnsupported", err)
	}

	// With a UserTimeout the listener silently becomes plain TCP.
	c.UserTimeout = 5 * time.Second
	ln, _, accepted = conns(t, f, c.ListenConfig(nil), c.Dialer(nil))
	if p := protocol(t, ln); p != unix.IPPROTO_TCP {
		t.Errorf("listener with UserTimeout: protocol %d, want plain TCP (%d)", p, unix.IPPROTO_TCP)
	}
	if got, w := mustRead(t, "accepted", accepted), want(t, c); got != w {
		t.Errorf("accepted: Read = %+v, want %+v", got, w)
	}
}

// SetUserTimeout changes TCP_USER_TIMEOUT alone: keepalive stays off on a
// connection that has it off, and the other values stay as they were.
func TestSetUserTimeoutLeavesKeepaliveAlone(t *testing.T) {
	for _, f := range families {
		t.Run(f.name, func(t *testing.T) {
			skipIfUnavailable(t, f)
			_, dialed, _ := conns(t, f, &net.ListenConfig{KeepAlive: -1}, &net.Dialer{KeepAlive: -1})
			before := mustRead(t, "dialed", dialed)
			if before.Enabled {
				t.Fatalf("Dialer{KeepAlive: -1} left keepalive on: %+v", before)
			}
			if err := SetUserTimeout(dialed, 2500*time.Millisecond); err != nil {
				t.Fatal(err)
			}
			want := before
			want.UserTimeout = 2500 * time.Millisecond
			if got := mustRead(t, "dialed", dialed); got != want {
				t.Errorf("after SetUserTimeout: Read = %+v, want %+v", got, want)
			}
			if err := SetUserTimeout(dialed, 0); err != nil {
				t.Fatal(err)
			}
			if got := mustRead(t, "dialed", dialed); got != before {
				t.Errorf("after SetUserTimeout(0): Read = %+v, want %+v", got, before)
			}
			if err := SetUserTimeout(dialed, 1500*time.Microsecond); !errors.Is(err, ErrInvalidConfig) {
				t.Errorf("SetUserTimeout(1.5ms) = %v, want ErrInvalidConfig", err)
			}
		})
	}
}
