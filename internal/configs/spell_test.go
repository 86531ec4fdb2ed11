package configs

import "testing"

func TestSeriesAtMost(t *testing.T) {
	for _, tt := range []struct {
		have, table string
		parts       int
		want        bool
	}{
		{"7.0.15", "7.0.15", 2, true},
		{"7.0.2", "7.0.15", 2, true},
		{"7.0.99", "7.0.15", 2, true}, // same series, later patch
		{"6.2.14", "7.0.15", 2, true},
		{"7", "7.0.15", 2, true},
		{"7.1", "7.0.15", 2, false},
		{"7.2.4", "7.0.15", 2, false},
		{"8.0", "7.0.15", 2, false},
		{"", "7.0.15", 2, false}, // unknown: never known to be old
		{"2.6.12-1+deb12u4", "2.6.12-1+deb12u4", 2, true},
		{"2.6", "2.6.12-1+deb12u4", 2, true},
		{"2.8.5", "2.6.12-1+deb12u4", 2, false},
		{"2.4.22", "2.6.12-1+deb12u4", 2, true},
		{"15.4 (Debian)", "15.18", 1, true},
		{"15.99", "15.18", 1, true},
		{"14.10", "15.18", 1, true},
		{"16.1", "15.18", 1, false},
		{"1.18.0", "1.18", 2, true},
		{"1.19.1", "1.18", 2, false},
		{"1.22.1", "1.22", 2, true},
		{"1.23.0", "1.22", 2, false},
	} {
		if got := SeriesAtMost(tt.have, tt.table, tt.parts); got != tt.want {
			t.Errorf("SeriesAtMost(%q, %q, %d) = %v, want %v", tt.have, tt.table, tt.parts, got, tt.want)
		}
	}
}

func TestVersionAtLeast(t *testing.T) {
	for _, c := range []struct {
		have, want string
		ok         bool
	}{
		{"1.25.1", "1.25.0", true}, {"1.25.0", "1.25.1", false}, {"2.10", "2.9", true}, {"2.9", "2.10", false},
		{"2.6.12-1+deb12u4", "2.6.12", true}, {"15.4 (Debian)", "15.5", false}, {"1.22", "1.22.0", true},
		{"1.22", "1.22.1", false}, {"1.22.0", "1.22", true},
	} {
		if got := VersionAtLeast(c.have, c.want); got != c.ok {
			t.Errorf("VersionAtLeast(%q, %q) = %v, want %v", c.have, c.want, got, c.ok)
		}
	}
}
