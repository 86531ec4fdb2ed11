package drill

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/keeptune/keeptune/internal/jsonx"
	"github.com/keeptune/keeptune/internal/textfmt"
)

// --server-cmd: the user's own server in the lab's server namespace.
//
// The lab tells the command where to listen in two ways: placeholders in the command line,
// replaced before it runs, and environment variables. A server whose configuration file names
// its own port (nginx -c ./nginx.conf) may listen there instead: the lab then takes the one TCP
// port the server listens on in its namespace.
//
//	{addr}    KEEPTUNE_ADDR    the server's lab address (lab.Lab.ServerAddr: 203.0.113.2 behind the middlebox, 198.51.100.2 direct)
//	{port}    KEEPTUNE_PORT    the port the clients connect to (4242)
//	{listen}  KEEPTUNE_LISTEN  addr:port ([addr]:port for IPv6)
//	{dir}     KEEPTUNE_DIR     a private directory for pid and log files, removed after the run
const (
	// DefaultServerSend is what each vanishing client sends the server before it vanishes: an
	// HTTP/1.1 request the server answers and then keeps the connection for (keep-alive).
	DefaultServerSend = "GET / HTTP/1.1\\r\\nHost: keeptune-lab\\r\\n\\r\\n"
	// serverStartTimeout is how long the lab waits for the command to listen.
	serverStartTimeout = 15 * time.Second
	// DefaultServerWait is how long the lab watches a server whose sockets have no keepalive
	// (nothing in TCP bounds when it releases them; only its own timeouts do).
	DefaultServerWait = 60 * time.Second
	// orphanWatch is how long the lab keeps watching sockets the server has closed (orphans
	// retransmitting their FIN to the vanished peer) once every descriptor is released: their
	// end is the kernel's (tcp_orphan_retries), not the server's.
	orphanWatch = 5 * time.Second
)

// shortCommand names the server in a table: the program (and the script of an interpreter).
func shortCommand(cmd string) string {
	f := strings.Fields(cmd)
	for len(f) > 1 && strings.Contains(f[0], "=") && !strings.HasPrefix(f[0], "-") {
		f = f[1:] // VAR=value before the program
	}
	if len(f) == 0 {
		return cmd
	}
	name := filepath.Base(f[0])
	switch strings.TrimRight(name, "0123456789.") {
	case "python", "node", "ruby", "perl", "java", "sh", "bash", "env", "php", "exec":
		for _, a := range f[1:] {
			if !strings.HasPrefix(a, "-") {
				name += " " + filepath.Base(a)
				break
			}
		}
	}
	return name
}

// ServerVars are the placeholders and environment variables the lab gives the command.
type ServerVars struct {
	Addr netip.Addr
	Port uint16
	Dir  string
}

// Listen is addr:port, with the IPv6 address in brackets.
func (v ServerVars) Listen() string { return netip.AddrPortFrom(v.Addr, v.Port).String() }

// Expand replaces {addr}, {port}, {listen} and {dir} in the command line.
func (v ServerVars) Expand(cmd string) string {
	return strings.NewReplacer("{addr}", v.Addr.String(), "{port}", strconv.Itoa(int(v.Port)),
		"{listen}", v.Listen(), "{dir}", v.Dir).Replace(cmd)
}

// Env is the environment variables for the command (added to keeptune's own).
func (v ServerVars) Env() []string {
	return []string{"KEEPTUNE_ADDR=" + v.Addr.String(), "KEEPTUNE_PORT=" + strconv.Itoa(int(v.Port)),
		"KEEPTUNE_LISTEN=" + v.Listen(), "KEEPTUNE_DIR=" + v.Dir}
}

// ParseServerSend turns --server-send into bytes: Go string escapes (\r, \n, \x00, \t) are
// interpreted; "" sends nothing (the clients only connect).
func ParseServerSend(s string) ([]byte, error) {
	if s == "" {
		return nil, nil
	}
	u, err := strconv.Unquote(`"` + strings.ReplaceAll(s, `"`, `\"`) + `"`)
	if err != nil {
		return nil, fmt.Errorf("--server-send %q: expected text with Go escapes (\\r, \\n, \\t, \\xNN): %v", s, err)
	}
	return []byte(u), nil
}

// ServerRun is what the lab saw of the user's server (--server-cmd) while the clients it had
// accepted vanished.
type ServerRun struct {
	// Command is the command line as run (placeholders replaced); PIDs the processes found in
	// the server namespace holding its sockets; Listen where the clients connected.
	Command string
	PIDs    []int
	Listen  string
	// Keepalive is what the server's accepted sockets really use, read from one of them
	// (pidfd_getfd + getsockopt, as `keeptune sockets --deep`); KeepaliveMixed says its sockets
	// did not all read the same.
	Keepalive      Settings
	KeepaliveOn    bool
	KeepaliveMixed bool
	// Clients is how many connections the server accepted from the vanishing clients.
	Clients int
	// FDsBefore and FDsAfter are the descriptors the server's processes held when the clients
	// vanished and at the end of the watch.
	FDsBefore, FDsAfter int
	// Released counts connections whose descriptor the server closed; ReleaseMin/Median/Max are
	// the times from each one's last received segment (tcp_info) to that, to within Every.
	Released                              int
	ReleaseMin, ReleaseMedian, ReleaseMax time.Duration
	// Gone counts connections that left the server namespace's socket table (in any state);
	// GoneMax the slowest, from its last received segment. Left lists the states of those that
	// had not (an orphan in FIN-WAIT-1 retransmitting its FIN to the vanished peer, ...).
	Gone    int
	GoneMax time.Duration
	Left    map[string]int
	// Every is the sampling period; Watched how long the lab watched after the clients vanished.
	Every, Watched time.Duration
}

// MarshalJSON writes the documented shape (docs/json.md, drill runs' "server").
func (s ServerRun) MarshalJSON() ([]byte, error) {
	type ka struct {
		Enabled     bool    `json:"enabled"`
		Idle        float64 `json:"idle_s"`
		Interval    float64 `json:"intvl_s"`
		Probes      int     `json:"probes"`
		UserTimeout float64 `json:"user_timeout_s"`
		Mixed       bool    `json:"mixed,omitempty"`
	}
	return jsonx.Marshal(struct {
		Command       string         `json:"command"`
		PIDs          []int          `json:"pids"`
		Listen        string         `json:"listen"`
		Keepalive     ka             `json:"keepalive"`
		Clients       int            `json:"clients"`
		FDsBefore     int            `json:"fds_before"`
		FDsAfter      int            `json:"fds_after"`
		Released      int            `json:"fds_released"`
		ReleaseMin    float64        `json:"release_min_s"`
		ReleaseMedian float64        `json:"release_median_s"`
		ReleaseMax    float64        `json:"release_max_s"`
		Gone          int            `json:"sockets_gone"`
		GoneMax       float64        `json:"sockets_gone_max_s"`
		Left          map[string]int `json:"sockets_left,omitempty"`
		Every         float64        `json:"sample_every_s"`
		Watched       float64        `json:"watched_s"`
	}{s.Command, s.PIDs, s.Listen,
		ka{s.KeepaliveOn, s.Keepalive.Idle.Seconds(), s.Keepalive.Interval.Seconds(), s.Keepalive.Count, s.Keepalive.UserTimeout.Seconds(), s.KeepaliveMixed},
		s.Clients, s.FDsBefore, s.FDsAfter, s.Released, round3(s.ReleaseMin.Seconds()), round3(s.ReleaseMedian.Seconds()),
		round3(s.ReleaseMax.Seconds()), s.Gone, round3(s.GoneMax.Seconds()), s.Left, round3(s.Every.Seconds()), round3(s.Watched.Seconds())})
}

// judgeServerGoal judges the user's server (--server-cmd): every vanished client's descriptor
// released within the profile's max_detection. The server's timers are its own: --time-scale
// does not reach them, so its times are real already.
func judgeServerGoal(r *Run, g *GoalVerdict, goal Goal, profile string) {
	sr := r.Server
	r.TheoryReal, r.MeasuredReal = r.Theory, r.Measured
	limit := goal.MaxDetection
	g.Want = fmt.Sprintf("release every vanished client's connection within %s (%s)", textfmt.Duration(limit), profile)
	all := sr.Released == sr.Clients
	switch {
	case all:
		g.Got = fmt.Sprintf("released after %s at most", textfmt.Duration(sr.ReleaseMax))
	case sr.Released > 0:
		g.Got = fmt.Sprintf("%d of %d still held after %s", sr.Clients-sr.Released, sr.Clients, textfmt.Duration(sr.Watched))
	default:
		g.Got = fmt.Sprintf("none of %d released after %s", sr.Clients, textfmt.Duration(sr.Watched))
	}
	if sr.KeepaliveOn {
		g.Got += fmt.Sprintf(" (its sockets' keepalive: %s, %s)", detectionRule(sr.Keepalive), textfmt.Duration(sr.Keepalive.Detection()))
	} else {
		g.Got += " (its sockets have no keepalive)"
	}
	g.Met = all && sr.ReleaseMax <= limit && r.Verdict == Pass
	if g.Met {
		return
	}
	switch {
	case sr.KeepaliveOn && sr.Keepalive.Detection() > limit:
		g.Bound = detectionBound(sr.Keepalive, limit) + " on the server's accepted sockets"
	case !sr.KeepaliveOn:
		g.Bound = fmt.Sprintf("turn TCP keepalive on for the server's accepted sockets with idle + intvl x probes within %s (nginx: listen ... so_keepalive=IDLE:INTVL:CNT; a program: SO_KEEPALIVE with TCP_KEEPIDLE/INTVL/CNT), or give the server an idle timeout under it",
			textfmt.Duration(limit))
	case all:
		g.Bound = fmt.Sprintf("the server released its connections after %s, later than its keepalive (%s) and the goal: it does not close a connection when the kernel reports the error",
			textfmt.Duration(sr.ReleaseMax), textfmt.Duration(sr.Keepalive.Detection()))
	}
}
