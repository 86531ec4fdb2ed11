package drill

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/keeptune/keeptune/internal/lab"
	"github.com/keeptune/keeptune/internal/profiles"
	"github.com/keeptune/keeptune/internal/yamlx"
)

// Scenario is one drill.
type Scenario struct {
	Name    string
	Summary string
	run     func(ctx context.Context, e *env) ([]Run, error)
}

// Scenarios lists the drills in the order they are documented.
func Scenarios() []Scenario {
	return []Scenario{
		{"dead-peer", "an idle connection's peer vanishes: time until the kernel declares it dead, client and server side", runDeadPeer},
		{"unacked-data", "the peer vanishes with data in flight: time to error under tcp_retries2 and under TCP_USER_TIMEOUT", runUnacked},
		{"nat-expiry", "a NAT forgets idle flows after T: does the connection survive with and without keepalive, and how does it fail", runNATExpiry},
		{"zombie-flood", "N clients vanish: the server's sockets, descriptors and memory until reclaimed", runZombieFlood},
		{"http-keepalive-race", "a real proxy (nginx, HAProxy) pools connections to a backend with a shorter keep-alive idle: failed requests per 1,000, and with the fix", runHTTPRace},
	}
}

// ScenarioNames lists the scenario names.
func ScenarioNames() []string {
	var out []string
	for _, s := range Scenarios() {
		out = append(out, s.Name)
	}
	return out
}

// Lookup finds a scenario by name; an unknown name gets a did-you-mean.
func Lookup(name string) (Scenario, error) {
	for _, s := range Scenarios() {
		if s.Name == name {
			return s, nil
		}
	}
	names := strings.Join(ScenarioNames(), ", ")
	if near := yamlx.Nearest(name, ScenarioNames()); near != "" {
		return Scenario{}, fmt.Errorf("unknown scenario %q: did you mean %q? (scenarios: %s)", name, near, names)
	}
	return Scenario{}, fmt.Errorf("unknown scenario %q: expected one of %s", name, names)
}

// Options configure a drill. Durations are the real ones; TimeScale divides them.
type Options struct {
	Settings Settings
	// Compare is a second setting run side by side (zombie-flood).
	Compare *Settings
	// TimeScale divides every timer (keepalive values, user timeout, the NAT's idle timeout).
	TimeScale int
	Family    lab.Family
	// DropAt is where the peer vanishes: the middlebox (a routed lab) or the receiver's input.
	DropAt lab.DropAt
	// Clients is the number of vanishing clients in zombie-flood.
	Clients int
	// NATTimeout is the NAT's idle timeout T (nat-expiry).
	NATTimeout time.Duration
	// OnExpiry lists the NAT behaviours to try (nat-expiry).
	OnExpiry []lab.OnExpiry
	// Retries2 is tcp_retries2 in the lab namespaces: it bounds how long unacknowledged data
	// is retransmitted (unacked-data, and a NAT that drops silently).
	Retries2 int
	// Repeat runs the scenario this many times (for accuracy statistics).
	Repeat int
	// Proxy, BackendIdle, PoolIdle and Requests configure http-keepalive-race: the proxy
	// (nginx or haproxy) pooling connections with idle timeout PoolIdle to a backend that
	// closes idle keep-alive connections after BackendIdle, and the requests per case.
	Proxy                 string
	BackendIdle, PoolIdle time.Duration
	Requests              int
	// Ends says which lab ends get the settings: both (the default), or only the client or the
	// server, as a chain hop has keepalive on one side only (--chain --hop).
	Ends Ends
	// Goal is what the settings must achieve in real time (a profile's limits); zero: the
	// default profile's.
	Goal Goal
	// HostRetries2 is this host's tcp_retries2: the goal of unacked-data is judged with it
	// when the lab runs another (0: unknown, the lab's value is used).
	HostRetries2 int
	// Enforce (dead-peer) runs the server as a separate program that never sets keepalive, in a
	// cgroup on which `keeptune enforce` puts the settings: the drill then measures what enforce
	// gives such a program.
	Enforce bool
	// ServerCmd (dead-peer, zombie-flood) runs the user's own server in the lab's server
	// namespace instead of the drill's: the lab measures when its processes release the vanished
	// clients' descriptors and sockets, against the keepalive read from its sockets. ServerSend
	// is what each client sends it first (Go escapes; "" nothing); ServerWait overrides how long
	// the lab watches (0: keepalive's accept window, or DefaultServerWait without keepalive).
	ServerCmd  string
	ServerSend string
	ServerWait time.Duration
	// Progress receives one line per step; nil discards.
	Progress io.Writer
}

// Ends says which ends of a lab connection run the settings under test.
type Ends int

// Ends.
const (
	BothEnds  Ends = iota
	ClientEnd      // the hop under test opens the connection (its upstream side)
	ServerEnd      // the hop under test accepts it (its downstream side)
)

// String names the ends for reports.
func (n Ends) String() string {
	switch n {
	case ClientEnd:
		return "client only"
	case ServerEnd:
		return "server only"
	}
	return "both ends"
}

// endSettings gives the client's and the server's settings: s where Ends puts keepalive, nil
// (keepalive off) elsewhere.
func (e *env) endSettings(s *Settings) (client, server *Settings) {
	switch e.opts.Ends {
	case ClientEnd:
		return s, nil
	case ServerEnd:
		return nil, s
	}
	return s, s
}

// Defaults for options left zero.
const (
	DefaultClients    = 1000
	DefaultNATTimeout = 30 * time.Second
	DefaultRetries2   = 5
	MinClients        = 1
	MaxClients        = 10000
)

func (o *Options) fill() {
	if o.ServerCmd != "" && o.Settings == (Settings{}) {
		// The server's own keepalive is read from its sockets; its namespace keeps the kernel's
		// defaults (the CLI gives this host's sysctls instead).
		o.Settings = KernelDefaults
		o.Settings.ViaSysctl = true
	}
	if o.TimeScale < 1 {
		o.TimeScale = 1
	}
	if o.Family == 0 {
		o.Family = lab.IPv4
	}
	if o.Clients == 0 {
		o.Clients = DefaultClients
	}
	if o.NATTimeout == 0 {
		o.NATTimeout = DefaultNATTimeout
	}
	if len(o.OnExpiry) == 0 {
		o.OnExpiry = []lab.OnExpiry{lab.ExpiryDrop}
	}
	if o.Retries2 == 0 {
		o.Retries2 = DefaultRetries2
	}
	if o.Repeat < 1 {
		o.Repeat = 1
	}
	if o.Proxy == "" {
		o.Proxy = Proxies[0]
	}
	if o.BackendIdle == 0 {
		o.BackendIdle = DefaultBackendIdle
	}
	if o.PoolIdle == 0 {
		o.PoolIdle = DefaultPoolIdle
	}
	if o.Requests == 0 {
		o.Requests = DefaultRequests
	}
	if o.Goal.Profile == "" {
		if p, err := profiles.Resolve(profiles.Default); err == nil {
			o.Goal = GoalFromProfile(p)
		}
	}
}

// Validate checks everything that can be checked before a lab exists.
func (o Options) Validate() error {
	o.fill()
	var errs []error
	if err := o.Settings.Validate(); err != nil {
		errs = append(errs, err)
	}
	if o.Compare != nil {
		if err := o.Compare.Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	if o.Family != lab.IPv4 && o.Family != lab.IPv6 {
		errs = append(errs, fmt.Errorf("address family %d: expected 4 or 6", o.Family))
	}
	if o.Clients < MinClients || o.Clients > MaxClients {
		errs = append(errs, fmt.Errorf("--clients %d: expected %d to %d", o.Clients, MinClients, MaxClients))
	}
	if o.NATTimeout < time.Second || o.NATTimeout%time.Second != 0 {
		errs = append(errs, fmt.Errorf("--nat-timeout %v: expected whole seconds, at least 1s (nf_conntrack_tcp_timeout_established is in seconds)", o.NATTimeout))
	}
	if o.Retries2 < 1 || o.Retries2 > 15 {
		errs = append(errs, fmt.Errorf("--retries2 %d: expected 1 to 15 (tcp_retries2; the kernel default is 15, about 924.6s)", o.Retries2))
	}
	if o.Enforce && (o.Ends == ClientEnd || o.Settings.ViaSysctl) {
		errs = append(errs, errors.New("--enforce puts the settings on the server through keeptune enforce: not with --from-host or a client-only hop"))
	}
	if o.Proxy != "nginx" && o.Proxy != "haproxy" {
		errs = append(errs, fmt.Errorf("--proxy %q: expected nginx or haproxy", o.Proxy))
	}
	if o.BackendIdle < time.Millisecond || o.PoolIdle < time.Millisecond {
		errs = append(errs, fmt.Errorf("--backend-idle %v, --pool-idle %v: expected positive durations", o.BackendIdle, o.PoolIdle))
	}
	if o.Requests < 10 || o.Requests > 10000 {
		errs = append(errs, fmt.Errorf("--requests %d: expected 10 to 10000", o.Requests))
	}
	if _, err := ParseServerSend(o.ServerSend); err != nil {
		errs = append(errs, err)
	}
	if o.ServerWait < 0 {
		errs = append(errs, fmt.Errorf("--server-wait %v: expected a positive duration", o.ServerWait))
	}
	if o.Repeat > 100 {
		errs = append(errs, fmt.Errorf("--repeat %d: expected 1 to 100", o.Repeat))
	}
	return errors.Join(errs...)
}

// ValidateFor adds the checks of one scenario to Validate: --server-cmd and --enforce apply to
// their scenarios only, and http-keepalive-race's idle timeouts, divided by --time-scale, must
// stay long enough for the lab's emulated latency.
func (o Options) ValidateFor(name string) error {
	if err := o.Validate(); err != nil {
		return err
	}
	o.fill()
	if o.ServerCmd != "" && name != "dead-peer" && name != "zombie-flood" {
		return errors.New("--server-cmd applies to dead-peer and zombie-flood only")
	}
	if o.Enforce && name != "dead-peer" {
		return errors.New("--enforce applies to dead-peer only")
	}
	if name == "http-keepalive-race" {
		if n := time.Duration(max(o.TimeScale, 1)); o.BackendIdle/n < 150*time.Millisecond || o.PoolIdle/n < 150*time.Millisecond {
			return fmt.Errorf("--backend-idle %v and --pool-idle %v divided by --time-scale %d: expected at least 150ms each in the lab (the emulated latency is one RTO, 200ms)", o.BackendIdle, o.PoolIdle, o.TimeScale)
		}
	}
	return nil
}

// Estimate is roughly how long the scenario takes with these options (for a progress line);
// 0 when it cannot be known before the run: with --server-cmd and no --server-wait the watch
// lasts as long as the keepalive the server's sockets use, read once it runs (it said "about
// 15s" for a 4.5 s run of nginx with so_keepalive=2s:1s:2, and would for a 2 h keepalive).
func Estimate(name string, o Options) time.Duration {
	o.fill()
	s, _ := o.Settings.Scale(o.TimeScale)
	var d time.Duration
	if o.ServerCmd != "" {
		// --server-wait bounds the watch, which ends early once every socket is gone and every
		// descriptor released.
		return o.ServerWait * time.Duration(o.Repeat)
	}
	switch name {
	case "dead-peer":
		d = s.Detection()
	case "unacked-data":
		d = unackedTheory(o.Retries2, 0)
		if s.UserTimeout > 0 {
			d += s.UserTimeout
		}
	case "nat-expiry":
		d = natEstimate(o, s)
	case "http-keepalive-race":
		// The cases' gaps as the drill will run them (it said 40s for a 30 s run: the fix case
		// was counted as a full sweep of the configured gaps plus half a sweep of its own).
		for _, c := range raceCases(o) {
			d += raceLaneTime(c.gaps) + raceSetup
		}
	case "zombie-flood":
		d = s.Detection() + zombieSetup(o.Clients)
		if o.Compare != nil {
			c, _ := o.Compare.Scale(o.TimeScale)
			d += c.Detection() + zombieSetup(o.Clients)
		}
	}
	return d * time.Duration(o.Repeat)
}

// zombieSetup is what a zombie-flood case costs besides the dead-peer time it measures: the
// lab, and n clients connecting and sending their request (the clients' detection clocks start
// at their requests, so part of it overlaps). Measured with the keeptune binary on a 2-core VM
// under load (sudo keeptune drill zombie-flood --idle 2s --intvl 1s --probes 3 --clients N -o
// json: elapsed_s minus the 5 s theory): 0.8 s for 500 clients, 0.9 s for 2000, 1.6 s for 5000.
// It was a flat 5 s, which made "this takes about 10s" of a 6 s run.
func zombieSetup(n int) time.Duration {
	return 200*time.Millisecond + time.Duration(n)*250*time.Microsecond
}

// env is what a scenario run sees.
type env struct {
	opts     Options
	settings Settings // scaled
	compare  *Settings
	progress io.Writer
	labIDs   []string
}

// newLab builds a lab and remembers its run id for the report.
func (e *env) newLab(ctx context.Context, spec lab.Spec) (*lab.Lab, error) {
	l, err := lab.New(ctx, spec)
	if err != nil {
		return nil, err
	}
	e.labIDs = append(e.labIDs, l.ID)
	e.logf("lab %s%s: %v %v", lab.Prefix, l.ID, spec.Family, spec.Topology)
	return l, nil
}

func (e *env) logf(format string, args ...any) {
	if e.progress != nil {
		fmt.Fprintf(e.progress, "keeptune drill: "+format+"\n", args...)
	}
}

// Execute runs a scenario and returns its report. The lab is removed before Execute returns, also when
// ctx is cancelled (SIGINT, SIGTERM): then Execute returns the runs finished so far and ctx's error.
func Execute(ctx context.Context, name string, opts Options) (Report, error) {
	sc, err := Lookup(name)
	if err != nil {
		return Report{}, err
	}
	if err := opts.ValidateFor(name); err != nil {
		return Report{}, err
	}
	opts.fill()
	rep := Report{Scenario: name, TimeScale: opts.TimeScale, Requested: []Settings{opts.Settings}, Started: time.Now(),
		Goal: opts.Goal, HostRetries2: opts.HostRetries2}
	if name == "http-keepalive-race" {
		// The race is between two HTTP idle timeouts; no TCP keepalive settings are under test
		// (the report's "settings:" line named the default profile's, which the race never used).
		rep.Requested = []Settings{}
	}
	e := &env{opts: opts, progress: opts.Progress}
	var notes []string
	e.settings, notes = opts.Settings.Scale(opts.TimeScale)
	rep.Notes = append(rep.Notes, notes...)
	if opts.Compare != nil {
		rep.Requested = append(rep.Requested, *opts.Compare)
		c, notes := opts.Compare.Scale(opts.TimeScale)
		e.compare = &c
		rep.Notes = append(rep.Notes, notes...)
	}
	if opts.TimeScale > 1 {
		rep.Notes = append(rep.Notes, fmt.Sprintf("timers divided by %d (--time-scale); tcp_retries2 and the 200ms minimum RTO cannot be scaled", opts.TimeScale))
	}
	for i := range opts.Repeat {
		if opts.Repeat > 1 {
			e.logf("%s: run %d of %d", name, i+1, opts.Repeat)
		}
		runs, err := sc.run(ctx, e)
		rep.Runs = append(rep.Runs, runs...)
		rep.LabIDs = e.labIDs
		if err != nil {
			rep.Elapsed = time.Since(rep.Started)
			judgeGoals(&rep, opts)
			return rep, err
		}
	}
	rep.Elapsed = time.Since(rep.Started)
	judgeGoals(&rep, opts)
	return rep, nil
}
