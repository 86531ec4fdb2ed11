package host

import (
	"debug/buildinfo"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/keeptune/keeptune/internal/model"
)

// What the Go runtime does to TCP sockets unless the program says otherwise. Checked against
// the Go 1.26 sources in $(go env GOROOT)/src/net and the history of those files (the release
// notes are not shipped in this GOROOT):
//
//   - net/dial.go: defaultTCPKeepAliveIdle = 15 s, defaultTCPKeepAliveInterval = 15 s
//     ("the same as defaultTCPKeepAliveIdle, see go.dev/issue/31510"), defaultTCPKeepAliveCount
//     = 9. Dialer.KeepAlive and ListenConfig.KeepAlive: "If zero, keep-alive probes are sent
//     with a default value (currently 15 seconds) ... If negative, keep-alive probes are
//     disabled."
//   - net/tcpsock.go newTCPConn: when KeepAliveConfig.Enable is false and the KeepAlive period
//     is not negative, it enables keepalive with KeepAliveConfig{Enable: true, Idle: period};
//     SetKeepAliveConfig then fills zero fields with the defaults (net/tcpsockopt_unix.go
//     setKeepAliveIdle/Interval/Count: 0 means default, negative leaves the kernel value). So
//     since Go 1.23 (KeepAliveConfig, go.dev/issue/62254, CL 542275) every dialed and accepted
//     TCP socket gets TCP_KEEPIDLE 15, TCP_KEEPINTVL 15 and TCP_KEEPCNT 9, and the namespace's
//     keepalive sysctls do not reach Go programs at all.
//   - Go 1.13 to 1.22: SetKeepAlivePeriod(d) set TCP_KEEPIDLE and TCP_KEEPINTVL both to d and
//     left TCP_KEEPCNT alone, so the count is the namespace's tcp_keepalive_probes. Keepalive
//     became the default for dialed connections in Go 1.12 (CL 107196, go.dev/issue/23459) and
//     for accepted ones in Go 1.13 (ListenConfig.KeepAlive, CL 170678, go.dev/issue/23378).
//     net.DialTCP joined in Go 1.20 (CL 447917, go.dev/issue/49345).
//   - Before Go 1.12 no default: a socket had keepalive only if the program asked (net/http's
//     server did, with a 3-minute period on accepted connections).
//
// A program that passes its own period gets it for the idle time: http.DefaultTransport dials
// with KeepAlive 30 s, which means 30 s idle and 30 s interval before Go 1.23 and 30 s idle, 15 s
// interval since. keeptune reports the runtime default; the socket view shows what each socket
// really uses.
const (
	goKeepaliveIdle     = 15 * time.Second
	goKeepaliveInterval = 15 * time.Second
	goKeepaliveCount    = 9
)

// readGoBinary recognises a Go program from its executable (/proc/PID/exe) with
// debug/buildinfo. It returns nil, nil for a binary that is not Go.
func readGoBinary(exe string) (*model.GoBinary, error) {
	bi, err := buildinfo.ReadFile(exe)
	if err != nil {
		if isPermission(err) || isGone(err) {
			return nil, err
		}
		return nil, nil // not a Go binary (or one built without build info)
	}
	g := &model.GoBinary{Version: bi.GoVersion, Path: bi.Main.Path}
	if g.Path == "" {
		g.Path = bi.Path
	}
	return g, nil
}

// goMinor returns N of a "go1.N..." version ("go1.22.3", "go1.23rc1", "devel go1.24-abcdef").
func goMinor(v string) (int, bool) {
	i := strings.Index(v, "go1.")
	if i < 0 {
		return 0, false
	}
	s := v[i+len("go1."):]
	end := 0
	for end < len(s) && s[end] >= '0' && s[end] <= '9' {
		end++
	}
	n, err := strconv.Atoi(s[:end])
	return n, err == nil
}

// goKeepalive is the keepalive the Go runtime of the given version puts on TCP sockets by
// default. probes is the tcp_keepalive_probes of the program's network namespace (unknown when
// that namespace was not read): Go before 1.23 leaves the count to the kernel.
func goKeepalive(version string, probes model.Setting[int]) model.KeepaliveSettings {
	var k model.KeepaliveSettings
	minor, ok := goMinor(version)
	if !ok {
		return k
	}
	src := func(detail string) model.Source {
		return model.Source{Kind: model.SourceRuntimeDefault, Detail: detail}
	}
	noUTO := model.KnownSetting(time.Duration(0), src("Go's net package never sets TCP_USER_TIMEOUT"))
	switch {
	case minor >= 23:
		d := fmt.Sprintf("Go %s net.Dialer/net.ListenConfig default (net.KeepAliveConfig zero values)", version)
		k.Enabled = model.KnownSetting(true, src(d))
		k.Idle = model.KnownSetting(goKeepaliveIdle, src(d))
		k.Interval = model.KnownSetting(goKeepaliveInterval, src(d))
		k.Count = model.KnownSetting(goKeepaliveCount, src(d))
		k.UserTimeout = noUTO
	case minor >= 12:
		d := fmt.Sprintf("Go %s net.Dialer/net.ListenConfig default KeepAlive period", version)
		if minor == 12 {
			d = fmt.Sprintf("Go %s net.Dialer default KeepAlive period; accepted connections get none", version)
		}
		k.Enabled = model.KnownSetting(true, src(d))
		k.Idle = model.KnownSetting(goKeepaliveIdle, src(d))
		k.Interval = model.KnownSetting(goKeepaliveInterval, src(d))
		k.Count = probes
		cd := fmt.Sprintf("Go %s leaves TCP_KEEPCNT to the kernel: tcp_keepalive_probes of the process's network namespace", version)
		if k.Count.Source.Detail != "" {
			cd += "; " + k.Count.Source.Detail
		}
		k.Count.Source.Detail = cd
		k.UserTimeout = noUTO
	default:
		k.Enabled = model.KnownSetting(false, src(fmt.Sprintf("Go %s does not enable TCP keepalive by default", version)))
		k.UserTimeout = noUTO
	}
	return k
}
