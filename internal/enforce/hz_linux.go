package enforce

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"time"
)

// The kernel keeps tcp_sock.keepalive_time and keepalive_intvl in jiffies (TCP_KEEPIDLE and
// TCP_KEEPINTVL store the seconds times HZ: tcp_sock_set_keepidle_locked, net/ipv4/tcp.c), so
// force mode, which compares what a socket holds with the policy's seconds, needs the kernel's
// HZ. It is a build option (CONFIG_HZ: 100, 250, 300 or 1000) that no system call reports.

// kernelHZ reads CONFIG_HZ from the kernel's configuration (/proc/config.gz, else
// /boot/config-RELEASE); without either it measures the tick rate in /proc/timer_list (root).
func kernelHZ(release string) (int, error) {
	var tried []string
	if f, err := os.Open("/proc/config.gz"); err == nil {
		defer f.Close()
		if zr, err := gzip.NewReader(f); err == nil {
			hz, err := configHZ(zr)
			if err == nil {
				return hz, nil
			}
			tried = append(tried, "/proc/config.gz: "+err.Error())
		}
	}
	if f, err := os.Open("/boot/config-" + release); err == nil {
		defer f.Close()
		hz, err := configHZ(f)
		if err == nil {
			return hz, nil
		}
		tried = append(tried, f.Name()+": "+err.Error())
	}
	hz, err := measureHZ(func() ([]byte, error) { return os.ReadFile("/proc/timer_list") }, 50*time.Millisecond)
	if err == nil {
		return hz, nil
	}
	tried = append(tried, "/proc/timer_list: "+err.Error())
	return 0, fmt.Errorf("the kernel's HZ (CONFIG_HZ) is unknown: no /proc/config.gz or /boot/config-%s, and %s", release, strings.Join(tried, "; "))
}

// configHZ finds CONFIG_HZ=N in a kernel configuration.
func configHZ(r io.Reader) (int, error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "CONFIG_HZ="); ok {
			hz, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil || hz <= 0 {
				return 0, fmt.Errorf("CONFIG_HZ=%s is not a tick rate", v)
			}
			return hz, nil
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, errors.New("no CONFIG_HZ line")
}

// timerListClock reads the clock ("now at N nsecs") and the first "jiffies: N" of
// /proc/timer_list.
func timerListClock(data []byte) (nowNs, jiffies uint64, err error) {
	var haveNow, haveJiffies bool
	for _, line := range bytes.Split(data, []byte("\n")) {
		s := strings.TrimSpace(string(line))
		if v, ok := strings.CutPrefix(s, "now at "); ok && !haveNow {
			nowNs, err = strconv.ParseUint(strings.TrimSuffix(v, " nsecs"), 10, 64)
			haveNow = err == nil
		}
		if v, ok := strings.CutPrefix(s, "jiffies: "); ok && !haveJiffies {
			jiffies, err = strconv.ParseUint(v, 10, 64)
			haveJiffies = err == nil
		}
		if haveNow && haveJiffies {
			return nowNs, jiffies, nil
		}
	}
	return 0, 0, errors.New("no \"now at\" and \"jiffies:\" lines")
}

// knownHZ are the tick rates Linux can be built with (kernel/Kconfig.hz).
var knownHZ = []int{100, 250, 300, 1000}

// measureHZ reads the clock twice, wait apart, and returns the known tick rate within 10% of
// the jiffies counted per second.
func measureHZ(read func() ([]byte, error), wait time.Duration) (int, error) {
	sample := func() (uint64, uint64, error) {
		data, err := read()
		if err != nil {
			return 0, 0, err
		}
		return timerListClock(data)
	}
	n0, j0, err := sample()
	if err != nil {
		return 0, err
	}
	time.Sleep(wait)
	n1, j1, err := sample()
	if err != nil {
		return 0, err
	}
	if n1 <= n0 || j1 < j0 {
		return 0, errors.New("the clock did not advance")
	}
	rate := float64(j1-j0) / (float64(n1-n0) / 1e9)
	for _, hz := range knownHZ {
		if math.Abs(rate-float64(hz)) <= 0.1*float64(hz) {
			return hz, nil
		}
	}
	return 0, fmt.Errorf("%.0f jiffies per second is no known HZ", rate)
}
