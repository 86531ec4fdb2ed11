package enforce

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

func TestConfigHZ(t *testing.T) {
	for _, tc := range []struct {
		config string
		want   int
		err    string
	}{
		{"CONFIG_HZ_250=y\nCONFIG_HZ=250\nCONFIG_SCHED_HRTICK=y\n", 250, ""},
		{"# CONFIG_HZ_PERIODIC is not set\nCONFIG_HZ=1000", 1000, ""},
		{"CONFIG_HZ_100=y\n", 0, "no CONFIG_HZ line"},
		{"CONFIG_HZ=fast\n", 0, "not a tick rate"},
	} {
		got, err := configHZ(strings.NewReader(tc.config))
		if got != tc.want || (tc.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("%q: %d, %v; want %d, %q", tc.config, got, err, tc.want, tc.err)
		}
	}
}

// timerList is the head of /proc/timer_list at a moment.
func timerList(nowNs, jiffies uint64) []byte {
	return []byte(fmt.Sprintf("Timer List Version: v0.10\nHRTIMER_MAX_CLOCK_BASES: 8\nnow at %d nsecs\n\ncpu: 0\n clock 0:\n  .base: 0\n .expires_next   : 1\njiffies: %d\n", nowNs, jiffies))
}

func TestMeasureHZ(t *testing.T) {
	for _, tc := range []struct {
		perSecond float64
		want      int
	}{{250, 250}, {1003, 1000}, {96, 100}, {300, 300}, {500, 0}} {
		reads := 0
		read := func() ([]byte, error) {
			reads++
			if reads == 1 {
				return timerList(5e9, 4294967296), nil
			}
			return timerList(5e9+2e9, 4294967296+uint64(2*tc.perSecond)), nil
		}
		got, err := measureHZ(read, 0)
		if got != tc.want || (tc.want == 0) != (err != nil) {
			t.Errorf("%.0f jiffies/s: %d, %v; want %d", tc.perSecond, got, err, tc.want)
		}
	}
}

// On this machine the configuration and the clock agree.
func TestKernelHZAgreesWithTheClock(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("/proc/timer_list is readable by root only")
	}
	hz, err := kernelHZ(mustRelease(t))
	if err != nil {
		t.Fatal(err)
	}
	measured, err := measureHZ(func() ([]byte, error) { return os.ReadFile("/proc/timer_list") }, 200*time.Millisecond)
	if err != nil {
		t.Skipf("cannot measure the tick rate here: %v", err)
	}
	if hz != measured {
		t.Errorf("kernelHZ %d, measured %d", hz, measured)
	}
}

func mustRelease(t *testing.T) string {
	t.Helper()
	rel, _, err := kernelRelease()
	if err != nil {
		t.Fatal(err)
	}
	return rel
}
