package keepalive

import (
	"context"
	"errors"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestValidate(t *testing.T) {
	const s = time.Second
	tests := []struct {
		name string
		c    Config
		want []string // substrings of the error; nil: valid
	}{
		{"zero", Config{}, nil},
		{"typical", Config{Idle: 7200 * s, Interval: 75 * s, Count: 9}, nil},
		{"minimums", Config{Idle: s, Interval: s, Count: 1, UserTimeout: time.Millisecond}, nil},
		{"maximums", Config{Idle: 32767 * s, Interval: 32767 * s, Count: 127, UserTimeout: 2147483647 * time.Millisecond}, nil},
		{"fractional idle", Config{Idle: 1500 * time.Millisecond},
			[]string{"Idle 1.5s is not a whole number of seconds", "1s to 32767s", "TCP_KEEPIDLE"}},
		{"sub-second interval", Config{Interval: 500 * time.Millisecond},
			[]string{"Interval 500ms is not a whole number of seconds", "TCP_KEEPINTVL"}},
		{"negative idle", Config{Idle: -s}, []string{"Idle -1s is negative"}},
		{"negative interval", Config{Interval: -s}, []string{"Interval -1s is negative"}},
		{"idle too large", Config{Idle: 32768 * s}, []string{"Idle 9h6m8s is too large", "32767s"}},
		{"interval too large", Config{Interval: 32768 * s}, []string{"Interval 9h6m8s is too large"}},
		{"count too large", Config{Count: 128}, []string{"Count 128 is out of range", "1 to 127", "TCP_KEEPCNT"}},
		{"negative count", Config{Count: -1}, []string{"Count -1 is out of range"}},
		{"negative user timeout", Config{UserTimeout: -time.Millisecond}, []string{"UserTimeout -1ms is negative", "TCP_USER_TIMEOUT"}},
		{"sub-millisecond user timeout", Config{UserTimeout: 1500 * time.Microsecond},
			[]string{"UserTimeout 1.5ms is not a whole number of milliseconds", "1ms to 2147483647ms"}},
		{"user timeout beyond int32", Config{UserTimeout: 2147483648 * time.Millisecond}, []string{"UserTimeout", "is too large"}},
		{"several at once", Config{Idle: 1500 * time.Millisecond, Count: 200},
			[]string{"Idle 1.5s", "Count 200"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.c.Validate()
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want an error containing %q", tt.want)
			}
			if !errors.Is(err, ErrInvalidConfig) {
				t.Errorf("errors.Is(%v, ErrInvalidConfig) = false", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate() = %q, want it to contain %q", err, w)
				}
			}
		})
	}
}

func TestDetectionTime(t *testing.T) {
	const s = time.Second
	tests := []struct {
		name string
		c    Config
		want time.Duration
	}{
		{"linux defaults", Config{Idle: 7200 * s, Interval: 75 * s, Count: 9}, 2*time.Hour + 11*time.Minute + 15*s},
		{"go defaults", Config{Idle: 15 * s, Interval: 15 * s, Count: 9}, 150 * s},
		{"cloudflare: uto before first interval", Config{Idle: s, Interval: 11 * s, UserTimeout: 5 * s}, 12 * s},
		{"uto ignores count", Config{Idle: s, Interval: 11 * s, Count: 9, UserTimeout: 5 * s}, 12 * s},
		{"uto on a timer firing", Config{Idle: 10 * s, Interval: 5 * s, UserTimeout: 30 * s}, 30 * s},
		{"uto just after a firing", Config{Idle: 10 * s, Interval: 5 * s, UserTimeout: 31 * s}, 35 * s},
		{"uto below idle still needs one probe", Config{Idle: 60 * s, Interval: 10 * s, UserTimeout: 5 * s}, 70 * s},
		{"uto beyond count", Config{Idle: 10 * s, Interval: 5 * s, Count: 2, UserTimeout: 60 * s}, 60 * s},
		{"no idle", Config{Interval: 75 * s, Count: 9}, 0},
		{"no interval", Config{Idle: 7200 * s, Count: 9}, 0},
		{"no count", Config{Idle: 7200 * s, Interval: 75 * s}, 0},
		{"zero", Config{}, 0},
		{"invalid", Config{Idle: 1500 * time.Millisecond, Interval: s, Count: 1}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.c.DetectionTime(); got != tt.want {
				t.Errorf("%+v.DetectionTime() = %v, want %v", tt.c, got, tt.want)
			}
		})
	}
	e := Effective{Enabled: true, Idle: 7200 * s, Interval: 75 * s, Count: 9}
	if got, want := e.DetectionTime(), 7875*s; got != want {
		t.Errorf("%+v.DetectionTime() = %v, want %v", e, got, want)
	}
	e.Enabled = false
	if got := e.DetectionTime(); got != 0 {
		t.Errorf("%+v.DetectionTime() = %v, want 0", e, got)
	}
}

func TestDialerKeepsBase(t *testing.T) {
	var calls []string
	base := &net.Dialer{
		Timeout:   3 * time.Second,
		KeepAlive: 30 * time.Second,
		Control: func(network, address string, rc syscall.RawConn) error {
			calls = append(calls, "base")
			return nil
		},
	}
	d := Config{Idle: time.Minute}.Dialer(base)
	if d == base {
		t.Fatal("Dialer returned base itself, want a copy")
	}
	if d.Timeout != base.Timeout {
		t.Errorf("Timeout = %v, want %v", d.Timeout, base.Timeout)
	}
	if base.KeepAlive != 30*time.Second || base.KeepAliveConfig != (net.KeepAliveConfig{}) {
		t.Errorf("base was modified: KeepAlive %v, KeepAliveConfig %+v", base.KeepAlive, base.KeepAliveConfig)
	}
	if want := (net.KeepAliveConfig{Enable: true, Idle: -1, Interval: -1, Count: -1}); d.KeepAliveConfig != want || d.KeepAlive != -1 {
		t.Errorf("KeepAlive %v, KeepAliveConfig %+v, want -1 and %+v", d.KeepAlive, d.KeepAliveConfig, want)
	}
	// A non-TCP network reaches only base's Control.
	if err := d.Control("udp4", "127.0.0.1:1", nil); err != nil || len(calls) != 1 {
		t.Errorf("Control(udp4) = %v after %v, want nil after [base]", err, calls)
	}

	// An error from base's Control stops the chain.
	errBase := errors.New("base refused")
	base.Control = func(string, string, syscall.RawConn) error { return errBase }
	d = Config{Idle: time.Minute}.Dialer(base)
	if err := d.Control("tcp4", "127.0.0.1:1", nil); err != errBase {
		t.Errorf("Control = %v, want %v", err, errBase)
	}

	// ControlContext takes precedence in net.Dialer, so it is what gets chained.
	base = &net.Dialer{ControlContext: func(context.Context, string, string, syscall.RawConn) error { return errBase }}
	d = Config{Idle: time.Minute}.Dialer(base)
	if d.Control != nil {
		t.Error("Dialer set Control although base has ControlContext (net.Dialer would ignore it)")
	}
	if err := d.ControlContext(context.Background(), "tcp4", "127.0.0.1:1", nil); err != errBase {
		t.Errorf("ControlContext = %v, want %v", err, errBase)
	}

	if d := (Config{}).Dialer(nil); d.Control == nil {
		t.Error("Dialer(nil).Control is nil")
	}
}

func TestListenConfigKeepsBase(t *testing.T) {
	errBase := errors.New("base refused")
	base := &net.ListenConfig{KeepAlive: time.Minute, Control: func(string, string, syscall.RawConn) error { return errBase }}
	lc := Config{Idle: time.Minute}.ListenConfig(base)
	if err := lc.Control("tcp4", "127.0.0.1:1", nil); err != errBase {
		t.Errorf("Control = %v, want %v", err, errBase)
	}
	if base.KeepAlive != time.Minute {
		t.Errorf("base was modified: KeepAlive %v", base.KeepAlive)
	}
	if want := (net.KeepAliveConfig{Enable: true, Idle: -1, Interval: -1, Count: -1}); lc.KeepAliveConfig != want || lc.KeepAlive != -1 {
		t.Errorf("KeepAlive %v, KeepAliveConfig %+v, want -1 and %+v", lc.KeepAlive, lc.KeepAliveConfig, want)
	}
	if lc := (Config{}).ListenConfig(nil); lc.Control == nil {
		t.Error("ListenConfig(nil).Control is nil")
	}
}

func TestOptionError(t *testing.T) {
	err := error(&OptionError{Op: "set", Option: "TCP_KEEPCNT", Err: syscall.EINVAL})
	if got, want := err.Error(), "keepalive: set TCP_KEEPCNT: invalid argument"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if !errors.Is(err, syscall.EINVAL) {
		t.Error("errors.Is(err, EINVAL) = false")
	}
	u := error(&OptionError{Op: "set", Option: "TCP_USER_TIMEOUT", Err: unsupportedError{syscall.ENOPROTOOPT}})
	if !errors.Is(u, ErrUnsupported) || !errors.Is(u, syscall.ENOPROTOOPT) {
		t.Errorf("%v: want it to match both ErrUnsupported and ENOPROTOOPT", u)
	}
	if got, want := u.Error(), "keepalive: set TCP_USER_TIMEOUT: "+syscall.ENOPROTOOPT.Error(); got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestControlRejectsInvalidConfig(t *testing.T) {
	// Validation happens before the socket is touched, so a nil RawConn is fine.
	err := Config{Idle: 1500 * time.Millisecond}.Control("tcp", "127.0.0.1:1", nil)
	if !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("Control = %v, want ErrInvalidConfig", err)
	}
}
