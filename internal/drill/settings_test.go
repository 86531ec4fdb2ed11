package drill

import (
	"strings"
	"testing"
	"time"

	"github.com/keeptune/keeptune/keepalive"
)

func TestSettingsValidate(t *testing.T) {
	ok := Settings{Label: "explicit", Config: keepalive.Config{Idle: 60 * time.Second, Interval: 10 * time.Second, Count: 5, UserTimeout: 45 * time.Second}}
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid settings: %v", err)
	}
	for _, tc := range []struct {
		name string
		edit func(*Settings)
		want string
	}{
		{"idle zero", func(s *Settings) { s.Idle = 0 }, "--idle 0: the kernel rejects 0"},
		{"idle negative", func(s *Settings) { s.Idle = -time.Second }, "--idle -1s is negative"},
		{"idle too large", func(s *Settings) { s.Idle = 32768 * time.Second }, "above the kernel's limit of 32767s"},
		{"idle fraction", func(s *Settings) { s.Idle = 1500 * time.Millisecond }, "whole seconds"},
		{"intvl zero", func(s *Settings) { s.Interval = 0 }, "--intvl 0"},
		{"probes zero", func(s *Settings) { s.Count = 0 }, "--probes 0: expected 1 to 127"},
		{"probes too many", func(s *Settings) { s.Count = 128 }, "--probes 128"},
		{"uto negative", func(s *Settings) { s.UserTimeout = -time.Second }, "--user-timeout -1s is negative"},
		{"uto fraction", func(s *Settings) { s.UserTimeout = 1500 * time.Microsecond }, "whole milliseconds"},
	} {
		s := ok
		tc.edit(&s)
		err := s.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Validate() = %v, want it to contain %q", tc.name, err, tc.want)
		}
	}
}

func TestSettingsScale(t *testing.T) {
	s := Settings{Label: "explicit", Config: keepalive.Config{Idle: 60 * time.Second, Interval: 10 * time.Second, Count: 5, UserTimeout: 45 * time.Second}}
	got, notes := s.Scale(10)
	if got.Idle != 6*time.Second || got.Interval != time.Second || got.Count != 5 || got.UserTimeout != 4500*time.Millisecond {
		t.Errorf("Scale(10) = %v", got)
	}
	if len(notes) != 0 {
		t.Errorf("exact scaling gave notes %q", notes)
	}
	got, notes = s.Scale(7)
	// 60/7 = 8.57 -> 9s, 10/7 = 1.43 -> 2s, 45000ms/7 = 6428.57 -> 6429ms
	if got.Idle != 9*time.Second || got.Interval != 2*time.Second || got.UserTimeout != 6429*time.Millisecond {
		t.Errorf("Scale(7) = %v", got)
	}
	if len(notes) != 3 || !strings.Contains(notes[0], "rounded up to 9s") {
		t.Errorf("Scale(7) notes = %q, want three roundings", notes)
	}
	got, _ = KernelDefaults.Scale(1000)
	if got.Idle != 8*time.Second || got.Interval != time.Second {
		t.Errorf("kernel defaults / 1000 = %v, want idle 8s (7.2 rounded up) and intvl 1s (minimum)", got)
	}
	if same, notes := s.Scale(1); same != s || notes != nil {
		t.Errorf("Scale(1) changed the settings")
	}
	if d, note := ScaleSeconds("NAT idle timeout", 350*time.Second, 50); d != 7*time.Second || note != "" {
		t.Errorf("ScaleSeconds(350s, 50) = %v, %q", d, note)
	}
	if d, note := ScaleSeconds("NAT idle timeout", 350*time.Second, 100); d != 4*time.Second || !strings.Contains(note, "NAT idle timeout 5m50s / 100 = 3.5s rounded up to 4s") {
		t.Errorf("ScaleSeconds(350s, 100) = %v, %q", d, note)
	}
}

func TestDetection(t *testing.T) {
	for _, tc := range []struct {
		s    Settings
		want time.Duration
	}{
		{Settings{Config: keepalive.Config{Idle: 2 * time.Second, Interval: time.Second, Count: 2}}, 4 * time.Second},
		{Settings{Config: keepalive.Config{Idle: 60 * time.Second, Interval: 10 * time.Second, Count: 5, UserTimeout: 45 * time.Second}}, 70 * time.Second},
		// Cloudflare's example: UTO 5s, idle 1s, intvl 11s: killed at 12s.
		{Settings{Config: keepalive.Config{Idle: time.Second, Interval: 11 * time.Second, Count: 9, UserTimeout: 5 * time.Second}}, 12 * time.Second},
	} {
		if got := tc.s.Detection(); got != tc.want {
			t.Errorf("%v: Detection() = %v, want %v", tc.s, got, tc.want)
		}
	}
}

func TestLookup(t *testing.T) {
	if _, err := Lookup("dead-peer"); err != nil {
		t.Fatal(err)
	}
	_, err := Lookup("dead-per")
	if err == nil || !strings.Contains(err.Error(), `did you mean "dead-peer"?`) {
		t.Errorf("Lookup(dead-per) = %v, want a did-you-mean", err)
	}
	_, err = Lookup("xyz")
	if err == nil || !strings.Contains(err.Error(), "expected one of dead-peer, unacked-data, nat-expiry, zombie-flood") {
		t.Errorf("Lookup(xyz) = %v", err)
	}
}

func TestOptionsValidate(t *testing.T) {
	base := Options{Settings: Settings{Label: "x", Config: keepalive.Config{Idle: time.Second, Interval: time.Second, Count: 1}}}
	if err := base.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		edit func(*Options)
		want string
	}{
		{func(o *Options) { o.Clients = 20000 }, "--clients 20000"},
		{func(o *Options) { o.Clients = -1 }, "--clients -1"},
		{func(o *Options) { o.NATTimeout = 1500 * time.Millisecond }, "--nat-timeout"},
		{func(o *Options) { o.Retries2 = 16 }, "--retries2 16"},
		{func(o *Options) {
			o.Compare = &Settings{Label: "kernel", Config: keepalive.Config{Idle: 0, Interval: time.Second, Count: 1}}
		}, "invalid kernel settings"},
	} {
		o := base
		tc.edit(&o)
		if err := o.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Validate() = %v, want %q", err, tc.want)
		}
	}
}

// A case without TCP keepalive names what it runs instead (http-keepalive-race's idle timeouts)
// in the SETTINGS column; unnamed, it is "keepalive off".
func TestSettingsStringWithoutKeepalive(t *testing.T) {
	for s, want := range map[Settings]string{
		{}:                       "keepalive off",
		{Label: "keepalive off"}: "keepalive off",
		{Label: "backend idle 250ms, pool idle 1s"}:                                                    "backend idle 250ms, pool idle 1s",
		{Label: "x", Config: keepalive.Config{Idle: 2 * time.Second, Interval: time.Second, Count: 2}}: "idle 2s intvl 1s probes 2",
	} {
		if got := s.String(); got != want {
			t.Errorf("%+v.String() = %q, want %q", s, got, want)
		}
	}
}

// Settings read as the flags take them, never Go's "2h0m0s" or "3m0s".
func TestSettingsString(t *testing.T) {
	for s, want := range map[Settings]string{
		{Config: keepalive.Config{Idle: 7200 * time.Second, Interval: 75 * time.Second, Count: 9}, ViaSysctl: true}:                    "idle 2h intvl 75s probes 9 (sysctl)",
		{Config: keepalive.Config{Idle: 180 * time.Second, Interval: 20 * time.Second, Count: 5}}:                                      "idle 180s intvl 20s probes 5",
		{Config: keepalive.Config{Idle: 10 * time.Minute, Interval: 30 * time.Second, Count: 5, UserTimeout: 2500 * time.Millisecond}}: "idle 10m intvl 30s probes 5 uto 2500ms",
	} {
		if got := s.String(); got != want {
			t.Errorf("%+v.String() = %q, want %q", s, got, want)
		}
	}
}
