package canary

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/keeptune/keeptune/internal/kstats"
	"github.com/keeptune/keeptune/internal/netns"
	"github.com/keeptune/keeptune/internal/sockets"
)

// Namespace is a network namespace the canary watches.
type Namespace struct {
	// Name is how the report calls it ("host", an `ip netns` name).
	Name string `json:"name"`
	// Path enters it (empty: keeptune's own).
	Path string `json:"path,omitempty"`
}

// Sample is one reading of a namespace's counters and socket table.
type Sample struct {
	Time     time.Time         `json:"time"`
	Counters map[string]uint64 `json:"counters"`
	// CurrEstab is the Tcp CurrEstab gauge (connections in ESTABLISHED or CLOSE_WAIT).
	CurrEstab int64        `json:"curr_estab"`
	Sockets   *SocketTable `json:"sockets,omitempty"`
}

// SocketTable counts the namespace's TCP sockets.
type SocketTable struct {
	ByState     map[string]int `json:"by_state"`
	ByKeepalive map[string]int `json:"by_keepalive"`
	// CloseWaitByProcess counts CLOSE_WAIT sockets per process ("name[pid]"; "unknown" when no
	// process holds one or it could not be read).
	CloseWaitByProcess map[string]int `json:"close_wait_by_process"`
}

// judged are the kernel counters the canary tests, in the order it reports them. It reads every
// counter the exporter reports (kstats.TCPCounters: where the kernel prints each); the opens are
// the denominator of the per-connection rates. expected marks the counters a keepalive change is
// meant to move: more probes and more dead-peer aborts say the change works and are reported,
// never called a regression.
var judged = []struct {
	field    string
	expected bool
}{
	{"TCPKeepAlive", true},
	{"TCPAbortOnTimeout", true},
	{"TCPAbortOnData", false},
	{"TCPAbortOnClose", false},
	{"TCPAbortOnLinger", false},
	{"TCPAbortOnMemory", false},
	{"EstabResets", false},
	{"OutRsts", false},
	{"RetransSegs", false},
	{"TCPTimeouts", false},
}

// ReadSample reads ns's counters, and its socket table when withSockets.
func ReadSample(ctx context.Context, ns Namespace, withSockets bool) (Sample, error) {
	s := Sample{Time: time.Now().UTC(), Counters: map[string]uint64{}}
	var st kstats.Stats
	err := netns.Do(ns.Path, func() error {
		var err error
		st, err = kstats.ReadThread()
		return err
	})
	if err != nil {
		return s, fmt.Errorf("counters of %s: %w", ns.Name, err)
	}
	for _, c := range kstats.TCPCounters {
		if v, ok := st.Value(c); ok {
			s.Counters[c.Field] = v
		}
	}
	if v, ok := st.Tcp().Int("CurrEstab"); ok {
		s.CurrEstab = v
	}
	if withSockets {
		t, err := readSockets(ctx, ns)
		if err != nil {
			return s, err
		}
		s.Sockets = t
	}
	return s, nil
}

func readSockets(ctx context.Context, ns Namespace) (*SocketTable, error) {
	t := &SocketTable{ByState: map[string]int{}, ByKeepalive: map[string]int{}, CloseWaitByProcess: map[string]int{}}
	where := ns.Path // sockets.Options.Netns takes a path; "" is keeptune's own namespace
	err := sockets.Walk(ctx, sockets.Options{Netns: where, Processes: true}, func(s *sockets.Socket) error {
		t.ByState[s.State.String()]++
		if k := s.Keepalive.State; k != sockets.KeepaliveNA {
			t.ByKeepalive[k.String()]++
		}
		if s.State == sockets.StateCloseWait {
			who := "unknown"
			if s.Owner != nil {
				who = fmt.Sprintf("%s[%d]", s.Owner.Comm, s.Owner.PID)
			}
			t.CloseWaitByProcess[who]++
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sockets of %s: %w", ns.Name, err)
	}
	return t, nil
}

// Window is a measured span: samples at its start and end.
type Window struct {
	Start Sample `json:"start"`
	End   Sample `json:"end"`
}

// Seconds is the window's length.
func (w Window) Seconds() float64 { return w.End.Time.Sub(w.Start.Time).Seconds() }

func (w Window) delta(field string) (uint64, bool) {
	a, ok1 := w.Start.Counters[field]
	b, ok2 := w.End.Counters[field]
	if !ok1 || !ok2 || b < a {
		return 0, false
	}
	return b - a, true
}

// Opens is connections opened in the window (active and passive).
func (w Window) Opens() uint64 {
	a, _ := w.delta("ActiveOpens")
	p, _ := w.delta("PassiveOpens")
	return a + p
}

// Measure samples every namespace at the start and after d, and returns the windows in the
// order of nss. It returns ctx's error when interrupted.
func Measure(ctx context.Context, nss []Namespace, d time.Duration) ([]Window, error) {
	ws := make([]Window, len(nss))
	for i, ns := range nss {
		s, err := ReadSample(ctx, ns, false)
		if err != nil {
			return nil, err
		}
		ws[i].Start = s
	}
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(d):
	}
	for i, ns := range nss {
		s, err := ReadSample(ctx, ns, true)
		if err != nil {
			return nil, err
		}
		ws[i].End = s
	}
	return ws, nil
}

// NamespaceVerdict is the comparison in one namespace.
type NamespaceVerdict struct {
	Namespace
	OpensBefore     uint64       `json:"opens_before"`
	OpensAfter      uint64       `json:"opens_after"`
	CurrEstabBefore int64        `json:"curr_estab_before"`
	CurrEstabAfter  int64        `json:"curr_estab_after"`
	SocketsBefore   *SocketTable `json:"sockets_before,omitempty"`
	SocketsAfter    *SocketTable `json:"sockets_after,omitempty"`
	Counters        []Result     `json:"counters"`
}

// Compare judges one namespace's after window against its before window.
func Compare(ns Namespace, before, after Window, cfg Config) NamespaceVerdict {
	cfg = cfg.withDefaults()
	v := NamespaceVerdict{Namespace: ns, OpensBefore: before.Opens(), OpensAfter: after.Opens(),
		CurrEstabBefore: before.End.CurrEstab, CurrEstabAfter: after.End.CurrEstab,
		SocketsBefore: before.End.Sockets, SocketsAfter: after.End.Sockets}
	perConn := v.OpensBefore >= cfg.MinOpens && v.OpensAfter >= cfg.MinOpens
	var tests []Test
	for _, c := range judged {
		b, ok1 := before.delta(c.field)
		a, ok2 := after.delta(c.field)
		if !ok1 || !ok2 {
			continue // this kernel does not print it
		}
		t := Test{Counter: c.field, Expected: c.expected, Before: b, After: a, PerConnection: perConn}
		if perConn {
			t.ExposureBefore, t.ExposureAfter = float64(v.OpensBefore), float64(v.OpensAfter)
		} else {
			t.ExposureBefore, t.ExposureAfter = before.Seconds(), after.Seconds()
		}
		tests = append(tests, t)
	}
	v.Counters = Judge(tests, cfg)
	if v.Counters == nil {
		v.Counters = []Result{}
	}
	return v
}

// Idle reports whether a namespace had no TCP activity at all in either window: no connection
// opened and no counter moved. Nothing there can have regressed, and nothing can be judged: it
// does not make the verdict inconclusive.
func (v NamespaceVerdict) Idle() bool {
	if v.OpensBefore+v.OpensAfter > 0 {
		return false
	}
	for _, r := range v.Counters {
		if r.Before+r.After > 0 {
			return false
		}
	}
	return true
}

// Overall is the verdict over namespaces (and the application signal): a regression anywhere
// is a regression; otherwise any inconclusive counter of a namespace that was not idle makes it
// inconclusive.
func Overall(nss []NamespaceVerdict, app *Result) (verdict string, reasons []string) {
	var regress, unsure []string
	unsureBy := map[string][]string{} // "where: why" -> counters
	var order []string
	add := func(where string, r Result) {
		switch r.Judgement {
		case Regression:
			regress = append(regress, fmt.Sprintf("%s %s: %d -> %d, %s", where, r.Counter, r.Before, r.After, r.Why))
		case Inconclusive:
			k := where + ": " + r.Why
			if _, ok := unsureBy[k]; !ok {
				order = append(order, k)
			}
			unsureBy[k] = append(unsureBy[k], r.Counter)
		}
	}
	for _, ns := range nss {
		if ns.Idle() {
			continue
		}
		for _, r := range ns.Counters {
			add(ns.Name, r)
		}
	}
	if app != nil {
		add("application", *app)
	}
	for _, k := range order {
		unsure = append(unsure, fmt.Sprintf("%s (%s)", k, strings.Join(unsureBy[k], ", ")))
	}
	sort.Strings(unsure)
	switch {
	case len(regress) > 0:
		return VerdictRegression, regress
	case len(unsure) > 0:
		return VerdictInconclusive, unsure
	}
	return VerdictNoRegression, nil
}
