package drill

import (
	"math"
	"sort"
	"time"

	"github.com/keeptune/keeptune/internal/jsonx"
	"github.com/keeptune/keeptune/internal/kernel"
)

// Accuracy of a drill measurement.
//
// Kernel timers run on the jiffies wheel and fire late, never early: a timer lands in a
// bucket whose granularity grows 8x per wheel level, so it is late by at most ~12.5% of its
// delay plus a jiffy (research/kernel-and-observability.md). Two more effects are ours:
//
//   - The kernel counts from the jiffy of the last received segment, and tcp_info reports that
//     segment's age in whole jiffies. Our estimate of when it arrived is therefore off by up to
//     a jiffy either way, and the kill itself can come up to a jiffy under theory in wall-clock
//     time (the timer was armed part-way through a jiffy). A measurement up to two jiffies
//     below theory is not "early".
//   - Slack covers what sits between the kernel's decision and our clock: the wake-up of the
//     goroutine blocked in read, and the RTT of the lab (microseconds).
const (
	// Jiffy is 1/HZ on this project's machines (HZ=250).
	Jiffy = kernel.Jiffy
	// Slack is the allowance for scheduling between the kernel's decision and our clock.
	Slack = 20 * time.Millisecond
	// Lateness is the largest fraction by which a wheel timer fires late.
	Lateness = kernel.TimerLateness
)

// Window is the range of measurements that agree with a theory value.
type Window struct{ Low, High time.Duration }

// AcceptWindow is [theory - 2 jiffies, theory*1.125 + 2 jiffies + Slack].
func AcceptWindow(theory time.Duration) Window {
	return Window{
		Low:  theory - 2*Jiffy,
		High: theory + time.Duration(float64(theory)*Lateness) + 2*Jiffy + Slack,
	}
}

// Verdict is the judgement of one run.
type Verdict string

// Verdicts.
const (
	Pass  Verdict = "PASS"  // measured within the window, or the expected outcome happened
	Early Verdict = "EARLY" // measured below the window: the theory (or the kernel) is wrong
	Late  Verdict = "LATE"  // measured above the window, or no error came at all
	Fail  Verdict = "FAIL"  // a different outcome than expected (survived vs died, reset vs hang)
)

// Judge compares a measurement with its theory.
func Judge(theory, measured time.Duration) Verdict {
	w := AcceptWindow(theory)
	switch {
	case measured < w.Low:
		return Early
	case measured > w.High:
		return Late
	}
	return Pass
}

// Event is one point on a run's timeline.
type Event struct {
	At   time.Duration // since the run started (the connection's first SYN)
	Side string        // "client", "server", "middlebox", "lab"
	What string        // "connect", "last data", "blackhole", "probe 1", "ETIMEDOUT", ...
}

// MarshalJSON writes {"t_s", "side", "event"}.
func (e Event) MarshalJSON() ([]byte, error) {
	return jsonx.Marshal(struct {
		T    float64 `json:"t_s"`
		Side string  `json:"side"`
		What string  `json:"event"`
	}{round3(e.At.Seconds()), e.Side, e.What})
}

// Sample is one observation of the server during zombie-flood.
type Sample struct {
	At       time.Duration // since the blackhole
	Inuse    int           // TCP connections in the server namespace (/proc/net/sockstat "inuse", IPv4 + IPv6, less the listener)
	FDs      int           // descriptors the server application still holds
	MemBytes int64         // buffer memory of those sockets (SO_MEMINFO) plus their socket objects
	Theory   int           // sockets theory says are still open at At
}

// MarshalJSON writes seconds and plain numbers.
func (s Sample) MarshalJSON() ([]byte, error) {
	return jsonx.Marshal(struct {
		T      float64 `json:"t_s"`
		Inuse  int     `json:"sockets"`
		FDs    int     `json:"fds"`
		Mem    int64   `json:"mem_bytes"`
		Theory int     `json:"theory_sockets"`
	}{round3(s.At.Seconds()), s.Inuse, s.FDs, s.MemBytes, s.Theory})
}

// Run is one measurement with its theory.
type Run struct {
	Scenario string
	Case     string // "client side", "tcp_retries2=5", "keepalive, NAT drops", ...
	Settings Settings
	Lab      string // "IPv4 client-middlebox-server, blackhole at middlebox forward"

	// Theory and Measured are nil when they do not apply (a connection that survives).
	Theory, Measured *time.Duration
	// TheoryAt is where on the timeline theory puts the error (nil when Theory is).
	TheoryAt *time.Duration
	// TheoryRule says which formula gave Theory ("idle + intvl*probes", "tcp_retries2=5").
	TheoryRule string
	Expected   string // the outcome theory predicts: "ETIMEDOUT", "ECONNRESET", "survives", "no error"
	Outcome    string // what happened
	Verdict    Verdict
	Notes      []string

	Timeline []Event
	Series   []Sample  // zombie-flood only
	Reclaim  *Reclaim  // zombie-flood only
	Started  time.Time `json:"-"`

	// TheoryReal and MeasuredReal map Theory and Measured back to real (unscaled) time: keepalive
	// timers multiplied by --time-scale; tcp_retries2, which cannot be scaled, at the host's value.
	TheoryReal, MeasuredReal *time.Duration
	// HTTP is what http-keepalive-race's load generator counted.
	HTTP *HTTPRace
	// Server is what the lab saw of the user's own server (--server-cmd).
	Server *ServerRun
	// Reference marks a run of other settings than those under test (nat-expiry without
	// keepalive, zombie-flood --compare, the end a chain hop leaves without keepalive): it keeps
	// its kernel verdict but does not decide the goal.
	Reference bool
	// Goal is the settings' verdict against the profile's limits, in real time (judgeGoals).
	Goal *GoalVerdict
}

// Reclaim summarises when the server reclaimed each vanished client's socket, measured from
// that socket's own last received segment.
type Reclaim struct {
	Sockets    int
	Reclaimed  int
	Min        time.Duration
	Median     time.Duration
	Max        time.Duration
	AllGoneAt  time.Duration // since the blackhole
	PeakMem    int64
	PeakInuse  int
	PerSockMem int64
}

// Ratio is Measured/Theory, or 0 when either is missing or theory is 0.
func (r Run) Ratio() float64 {
	if r.Theory == nil || r.Measured == nil || *r.Theory <= 0 {
		return 0
	}
	return float64(*r.Measured) / float64(*r.Theory)
}

// MarshalJSON writes the documented shape: scenario, case, settings, theory_s, measured_s,
// ratio, verdict, and the rest.
func (r Run) MarshalJSON() ([]byte, error) {
	secs := func(d *time.Duration) *float64 {
		if d == nil {
			return nil
		}
		v := round3(d.Seconds())
		return &v
	}
	var ratio *float64
	if x := r.Ratio(); x > 0 {
		v := math.Round(x*1000) / 1000
		ratio = &v
	}
	type reclaim struct {
		Sockets   int     `json:"sockets"`
		Reclaimed int     `json:"reclaimed"`
		Min       float64 `json:"min_s"`
		Median    float64 `json:"median_s"`
		Max       float64 `json:"max_s"`
		AllGoneAt float64 `json:"all_gone_after_blackhole_s"`
		PeakInuse int     `json:"peak_sockets"`
		PeakMem   int64   `json:"peak_mem_bytes"`
	}
	type httpJSON struct {
		Proxy       string  `json:"proxy"`
		BackendIdle float64 `json:"backend_idle_s"`
		PoolIdle    float64 `json:"pool_idle_s"`
		Requests    int     `json:"requests"`
		Failures    int     `json:"failures"`
		Status5xx   int     `json:"status_5xx"`
		NoAnswer    int     `json:"no_answer"`
		GapMin      float64 `json:"gap_min_s"`
		GapMax      float64 `json:"gap_max_s"`
		HeldFINs    uint64  `json:"held_fins"`
	}
	var hj *httpJSON
	var perK *float64
	if h := r.HTTP; h != nil {
		hj = &httpJSON{h.Proxy, round3(h.BackendIdle.Seconds()), round3(h.PoolIdle.Seconds()), h.Requests, h.Failures(), h.Status5xx, h.NoAnswer,
			round3(h.GapMin.Seconds()), round3(h.GapMax.Seconds()), h.HeldFINs}
		v := h.PerThousand()
		perK = &v
	}
	var g GoalVerdict
	if r.Goal != nil {
		g = *r.Goal
	}
	var rc *reclaim
	if r.Reclaim != nil {
		c := r.Reclaim
		rc = &reclaim{c.Sockets, c.Reclaimed, round3(c.Min.Seconds()), round3(c.Median.Seconds()), round3(c.Max.Seconds()),
			round3(c.AllGoneAt.Seconds()), c.PeakInuse, c.PeakMem}
	}
	return jsonx.Marshal(struct {
		Scenario   string     `json:"scenario"`
		Case       string     `json:"case"`
		Settings   Settings   `json:"settings"`
		Lab        string     `json:"lab"`
		Theory     *float64   `json:"theory_s"`
		Measured   *float64   `json:"measured_s"`
		Ratio      *float64   `json:"ratio"`
		TheoryRule string     `json:"theory_rule,omitempty"`
		Expected   string     `json:"expected"`
		Outcome    string     `json:"outcome"`
		Verdict    Verdict    `json:"verdict"`
		Notes      []string   `json:"notes,omitempty"`
		Timeline   []Event    `json:"timeline,omitempty"`
		Reclaim    *reclaim   `json:"reclaim,omitempty"`
		Series     []Sample   `json:"series,omitempty"`
		TheoryReal *float64   `json:"theory_real_s"`
		MeasReal   *float64   `json:"measured_real_s"`
		GoalMet    bool       `json:"goal_met"`
		Reference  bool       `json:"reference,omitempty"`
		Goal       string     `json:"goal,omitempty"`
		GoalGot    string     `json:"goal_got,omitempty"`
		GoalBound  string     `json:"goal_bound,omitempty"`
		HTTP       *httpJSON  `json:"http,omitempty"`
		PerK       *float64   `json:"failures_per_1000,omitempty"`
		Server     *ServerRun `json:"server,omitempty"`
	}{r.Scenario, r.Case, r.Settings, r.Lab, secs(r.Theory), secs(r.Measured), ratio, r.TheoryRule,
		r.Expected, r.Outcome, r.Verdict, r.Notes, r.Timeline, rc, r.Series,
		secs(r.TheoryReal), secs(r.MeasuredReal), g.Met, g.Reference, g.Want, g.Got, g.Bound, hj, perK, r.Server})
}

// Report is everything one `keeptune drill` invocation found.
type Report struct {
	Scenario  string
	TimeScale int
	// Requested are the settings as given; the runs carry the applied (scaled) ones.
	Requested []Settings
	Notes     []string
	Runs      []Run
	// LabIDs are the run ids of the labs the drill built (all removed by the time it returns).
	LabIDs  []string
	Started time.Time
	Elapsed time.Duration
	// Goal holds the limits the settings were judged against; HostRetries2 is this host's
	// tcp_retries2 (0 when unknown) that unacked-data's goal uses.
	Goal         Goal
	HostRetries2 int
}

// MarshalJSON writes the report with its accuracy rules, so a reader can re-judge the runs.
func (r Report) MarshalJSON() ([]byte, error) {
	return jsonx.Marshal(struct {
		Scenario  string     `json:"scenario"`
		TimeScale int        `json:"time_scale"`
		Requested []Settings `json:"requested_settings"`
		Notes     []string   `json:"notes,omitempty"`
		Accuracy  any        `json:"accuracy"`
		Runs      []Run      `json:"runs"`
		Summary   any        `json:"summary"`
		LabIDs    []string   `json:"lab_ids"`
		Started   time.Time  `json:"started"`
		Elapsed   float64    `json:"elapsed_s"`
		GoalMet   bool       `json:"goal_met"`
		Goal      any        `json:"goal"`
		HostR2    int        `json:"host_retries2,omitempty"`
	}{r.Scenario, r.TimeScale, r.Requested, r.Notes,
		map[string]any{"window": "[theory - 2 jiffies, theory * 1.125 + 2 jiffies + slack]",
			"jiffy_ms": Jiffy.Milliseconds(), "slack_ms": Slack.Milliseconds(), "lateness": Lateness},
		r.Runs, r.Summary(), r.LabIDs, r.Started, round3(r.Elapsed.Seconds()), r.GoalMet(),
		map[string]any{"profile": r.Goal.Profile, "max_detection_s": r.Goal.MaxDetection.Seconds(), "max_unacked_s": r.Goal.MaxUnacked.Seconds()},
		r.HostRetries2})
}

// Summary counts verdicts and gives the median and worst measured/theory ratio per scenario
// and case (the accuracy table of docs/PERFORMANCE.md).
type Summary struct {
	Verdicts map[Verdict]int `json:"verdicts"`
	Ratios   []RatioStat     `json:"ratios,omitempty"`
}

// RatioStat is the spread of measured/theory over the runs of one case.
type RatioStat struct {
	Scenario string  `json:"scenario"`
	Case     string  `json:"case"`
	Runs     int     `json:"runs"`
	Median   float64 `json:"median"`
	Worst    float64 `json:"worst"` // the ratio farthest from 1
	Min      float64 `json:"min"`
	Max      float64 `json:"max"`
}

// Summary computes the summary.
func (r Report) Summary() Summary {
	s := Summary{Verdicts: map[Verdict]int{}}
	byCase := map[[2]string][]float64{}
	var order [][2]string
	for _, run := range r.Runs {
		s.Verdicts[run.Verdict]++
		if x := run.Ratio(); x > 0 {
			k := [2]string{run.Scenario, run.Case}
			if _, ok := byCase[k]; !ok {
				order = append(order, k)
			}
			byCase[k] = append(byCase[k], x)
		}
	}
	for _, k := range order {
		xs := byCase[k]
		sort.Float64s(xs)
		worst := xs[0]
		for _, x := range xs {
			if math.Abs(x-1) > math.Abs(worst-1) {
				worst = x
			}
		}
		s.Ratios = append(s.Ratios, RatioStat{Scenario: k[0], Case: k[1], Runs: len(xs),
			Median: round3(median(xs)), Worst: round3(worst), Min: round3(xs[0]), Max: round3(xs[len(xs)-1])})
	}
	return s
}

// Failed reports whether any run's verdict is not PASS.
func (r Report) Failed() bool {
	for _, run := range r.Runs {
		if run.Verdict != Pass {
			return true
		}
	}
	return false
}

func median(sorted []float64) float64 {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	if n%2 == 1 {
		return sorted[n/2]
	}
	return (sorted[n/2-1] + sorted[n/2]) / 2
}

func round3(x float64) float64 { return math.Round(x*1000) / 1000 }

func dur(d time.Duration) *time.Duration { return &d }
