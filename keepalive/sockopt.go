//go:build linux || darwin || freebsd || windows

package keepalive

import (
	"errors"
	"fmt"
	"runtime"
	"time"
)

// sockopt is one integer socket option. The platform files define
// soKeepAlive, tcpKeepIdle, tcpKeepIntvl, tcpKeepCnt and tcpUserTimeout,
// and setsockoptInt, getsockoptInt and noSuchOption.
type sockopt struct {
	name  string // the platform's name for the option
	level int
	opt   int // -1: the platform has no such option
}

func (o sockopt) set(fd uintptr, v int) error {
	if err := setsockoptInt(fd, o.level, o.opt, v); err != nil {
		return &OptionError{Op: "set", Option: o.name, Err: classify(err)}
	}
	return nil
}

func (o sockopt) get(fd uintptr) (int, error) {
	v, err := getsockoptInt(fd, o.level, o.opt)
	if err != nil {
		return 0, &OptionError{Op: "get", Option: o.name, Err: classify(err)}
	}
	return v, nil
}

func classify(err error) error {
	if noSuchOption(err) {
		return unsupportedError{err}
	}
	return err
}

// setOptions sets SO_KEEPALIVE=1 and the non-zero fields of a validated c.
func setOptions(fd uintptr, c Config) error {
	if c.UserTimeout != 0 && tcpUserTimeout.opt < 0 {
		return &OptionError{Op: "set", Option: tcpUserTimeout.name,
			Err: fmt.Errorf("not available on %s: %w", runtime.GOOS, ErrUnsupported)}
	}
	if err := soKeepAlive.set(fd, 1); err != nil {
		return err
	}
	if c.Idle != 0 {
		if err := tcpKeepIdle.set(fd, int(c.Idle/time.Second)); err != nil {
			return err
		}
	}
	if c.Interval != 0 {
		if err := tcpKeepIntvl.set(fd, int(c.Interval/time.Second)); err != nil {
			return err
		}
	}
	if c.Count != 0 {
		if err := tcpKeepCnt.set(fd, c.Count); err != nil {
			return err
		}
	}
	if c.UserTimeout != 0 {
		if err := tcpUserTimeout.set(fd, int(c.UserTimeout/time.Millisecond)); err != nil {
			return err
		}
	}
	return nil
}

// setUserTimeout sets TCP_USER_TIMEOUT alone.
func setUserTimeout(fd uintptr, d time.Duration) error {
	if tcpUserTimeout.opt < 0 {
		return &OptionError{Op: "set", Option: tcpUserTimeout.name,
			Err: fmt.Errorf("not available on %s: %w", runtime.GOOS, ErrUnsupported)}
	}
	return tcpUserTimeout.set(fd, int(d/time.Millisecond))
}

// getOptions reads every option it can and reports the ones it cannot.
func getOptions(fd uintptr) (Effective, error) {
	var errs []error
	get := func(o sockopt) int {
		v, err := o.get(fd)
		if err != nil {
			errs = append(errs, err)
		}
		return v
	}
	e := Effective{
		Enabled:  get(soKeepAlive) != 0, // the BSDs report the option's bit, not 1
		Idle:     time.Duration(get(tcpKeepIdle)) * time.Second,
		Interval: time.Duration(get(tcpKeepIntvl)) * time.Second,
		Count:    get(tcpKeepCnt),
	}
	if tcpUserTimeout.opt >= 0 {
		e.UserTimeout = time.Duration(get(tcpUserTimeout)) * time.Millisecond
	}
	return e, errors.Join(errs...)
}
