package nginx

import (
	"testing"
	"time"
)

func TestParseTime(t *testing.T) {
	tests := []struct {
		in   string
		sec  bool
		want time.Duration
		ok   bool
	}{
		{"75", false, 75 * time.Second, true}, // a bare number is seconds, also for ms-valued directives
		{"75s", false, 75 * time.Second, true},
		{"500ms", false, 500 * time.Millisecond, true},
		{"1h30m", false, 90 * time.Minute, true},
		{"1h 30m", false, 90 * time.Minute, true},
		{"1d2h3m4s5ms", false, 26*time.Hour + 3*time.Minute + 4*time.Second + 5*time.Millisecond, true},
		{"2w", false, 14 * 24 * time.Hour, true},
		{"1m30", false, 90 * time.Second, true},
		{"0", false, 0, true},
		{"1M", true, 30 * 24 * time.Hour, true},
		{"1y", true, 365 * 24 * time.Hour, true},
		{"1y", false, 0, false},    // ngx_parse_time(_, 0) starts at st_month: no years
		{"1M", false, 0, false},    // nor months
		{"500ms", true, 0, false},  // seconds-valued: no milliseconds
		{"30m1h", false, 0, false}, // largest unit first
		{"1s1s", false, 0, false},
		{"", false, 0, false},
		{"s", false, 0, false},
		{"65x", false, 0, false},
		{"-1", false, 0, false},
		{"99999999999999999999", false, 0, false},
		{"1 s", false, 0, false}, // a space ends a bare number, which must come last
	}
	for _, tt := range tests {
		got, err := ParseTime(tt.in, tt.sec)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseTime(%q, %v) = %v, %v; want %v ok=%v", tt.in, tt.sec, got, err, tt.want, tt.ok)
		}
	}
}

func TestParseSoKeepalive(t *testing.T) {
	tests := []struct {
		in          string
		on          bool
		idle, intvl time.Duration
		cnt         int
		wantErr     bool
	}{
		{"on", true, 0, 0, 0, false},
		{"off", false, 0, 0, 0, false},
		{"30s:5s:4", true, 30 * time.Second, 5 * time.Second, 4, false},
		{"30m::10", true, 30 * time.Minute, 0, 10, false},
		{"::3", true, 0, 0, 3, false},
		{"60", true, time.Minute, 0, 0, false},
		{"::", false, 0, 0, 0, true},
		{"0:0:0", false, 0, 0, 0, true},
		{"x:1:1", false, 0, 0, 0, true},
		{"1:1:x", false, 0, 0, 0, true},
		{"10ms::", false, 0, 0, 0, true},
	}
	for _, tt := range tests {
		ka, err := parseSoKeepalive(tt.in)
		if tt.wantErr {
			if err == nil {
				t.Errorf("%q: no error", tt.in)
			}
			continue
		}
		if err != nil || ka.On != tt.on || ka.Idle != tt.idle || ka.Interval != tt.intvl || ka.Count != tt.cnt {
			t.Errorf("%q = %+v, %v", tt.in, ka, err)
		}
	}
}
