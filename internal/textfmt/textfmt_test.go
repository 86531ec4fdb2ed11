package textfmt

import (
	"strings"
	"testing"
	"time"
)

func TestDuration(t *testing.T) {
	for _, tt := range []struct {
		d    time.Duration
		want string
	}{
		{0, "0s"},
		{time.Second / 3, "333ms"}, // was "0.3333333333333333s"
		{2 * time.Millisecond, "2ms"},
		{1500 * time.Millisecond, "1.5s"},
		{75 * time.Second, "1m15s"},
		{59*time.Second + 960*time.Millisecond, "1m"},
		{42 * time.Second, "42s"},
		{350 * time.Second, "5m50s"},
		{2 * time.Hour, "2h"},
		{2*time.Hour + 11*time.Minute + 15*time.Second, "2h11m15s"},
		{10 * time.Minute, "10m"},
		{24 * time.Hour, "24h"},
		{5 * 24 * time.Hour, "5d"},
		{-2 * time.Second, "-2s"},
		{56*time.Second + 400*time.Millisecond, "56.4s"},
		{98 * time.Second, "1m38s"},
		{924600 * time.Millisecond, "15m24.6s"},
		// Under a millisecond, whole microseconds: a reset measured 261.523 µs after the write.
		{180 * time.Microsecond, "180µs"},
		{261523 * time.Nanosecond, "262µs"},
		{999600 * time.Nanosecond, "1ms"},
		{500 * time.Nanosecond, "500ns"},
	} {
		if got := Duration(tt.d); got != tt.want {
			t.Errorf("Duration(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
}

func TestSecondsPluralPossessive(t *testing.T) {
	if got := Seconds(75 * time.Second); got != "75 s" {
		t.Errorf("Seconds(75s) = %q", got)
	}
	if got := Seconds(7200 * time.Second); got != "7200 s (2h)" {
		t.Errorf("Seconds(7200s) = %q", got)
	}
	if got := Seconds(2 * time.Millisecond); got != "2ms" { // never "2ms s"
		t.Errorf("Seconds(2ms) = %q", got)
	}
	if got := Plural(1, "frontend runs", "frontends run"); got != "frontend runs" {
		t.Errorf("Plural(1) = %q", got)
	}
	if got := Plural(2, "frontend runs", "frontends run"); got != "frontends run" {
		t.Errorf("Plural(2) = %q", got)
	}
	if got := Possessive("clients"); got != "clients'" {
		t.Errorf("Possessive(clients) = %q", got)
	}
	if got := Possessive("envoy"); got != "envoy's" {
		t.Errorf("Possessive(envoy) = %q", got)
	}
}

func TestWrap(t *testing.T) {
	got := Wrap("aaa bbb ccc https://example.com/a/very/long/path ddd", 12, "  ", "> ")
	want := []string{"> aaa bbb", "  ccc", "  https://example.com/a/very/long/path", "  ddd"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("Wrap = %q, want %q", got, want)
	}
	for _, l := range Wrap("\x1b[1mbold\x1b[0m word", 9, "") {
		if VisibleLen(l) > 9 {
			t.Errorf("line %q is wider than 9 visible columns", l)
		}
	}
}

func TestSetting(t *testing.T) {
	for _, c := range []struct {
		d    time.Duration
		want string
	}{
		{0, "0s"}, {60 * time.Second, "60s"}, {350 * time.Second, "350s"}, {4 * time.Minute, "4m"},
		{90 * time.Minute, "90m"}, {24 * time.Hour, "24h"}, {5 * 24 * time.Hour, "5d"},
		{1500 * time.Millisecond, "1500ms"}, {1500 * time.Microsecond, "1.5ms"},
		// as catalog entries state them (the catalog writes its values with Setting)
		{10 * time.Minute, "10m"}, {610 * time.Second, "610s"}, {time.Hour, "1h"},
	} {
		if got := Setting(c.d); got != c.want {
			t.Errorf("Setting(%v) = %q, want %q", c.d, got, c.want)
		}
	}
}
