package rules

import (
	"fmt"
	"github.com/keeptune/keeptune/internal/configs"
	"github.com/keeptune/keeptune/internal/configs/nginx"
	"github.com/keeptune/keeptune/internal/textfmt"
	"slices"
	"strconv"
	"strings"

	"github.com/keeptune/keeptune/internal/model"
	"github.com/keeptune/keeptune/internal/plan"
)

// somaxconnTarget is the plan's floor of the accept queue limit.
const somaxconnTarget = plan.SomaxconnTarget

var somaxconnLow = Rule{
	ID: "KT401", Name: "somaxconn-low", Severity: model.SeverityWarning,
	Title: "Small accept queue limit (net.core.somaxconn)",
	What:  "Flags net.core.somaxconn below 4096, the kernel default since Linux 5.4.",
	Why: "somaxconn caps every listen() backlog. When the accept queue is full the kernel drops " +
		"the client's handshake completion: clients see connect times of 1 s, 3 s, 7 s (SYN " +
		"retransmissions) during bursts, or resets with tcp_abort_on_overflow. Old defaults (128) " +
		"are still set by some images.",
	Fix:    "net.core.somaxconn = 4096 (or more for very bursty servers), and a matching backlog in the server (nginx listen ... backlog=N).",
	Source: "Linux commit 19f92a030ca6 (net: increase SOMAXCONN to 4096); Documentation/networking/ip-sysctl.rst",
	Check: func(in *Input) []model.Finding {
		var out []model.Finding
		for _, ns := range in.Snapshot.Namespaces {
			s, v, ok := sysctlInt(ns.Sysctls, model.KeySomaxconn)
			if !ok || v >= somaxconnTarget {
				continue
			}
			out = append(out, model.Finding{
				Severity: model.SeverityWarning, Subject: subject(ns, model.KeySomaxconn), Namespace: nsLabel(ns),
				Message:  fmt.Sprintf("net.core.somaxconn = %d caps every listen backlog at %d; bursts of new connections overflow the accept queue and clients wait for SYN retransmissions (1 s, 3 s, 7 s).", v, v),
				Evidence: []model.Evidence{evidence(s)},
				Location: model.LocationOf(s.Source),
				Fix:      sysctlFixFromPlan(in, ns, setting{sysctl: s, proposed: fmt.Sprint(somaxconnTarget)}),
			})
		}
		return out
	},
}

var synBacklogBelowSomaxconn = Rule{
	ID: "KT402", Name: "syn-backlog-below-somaxconn", Severity: model.SeverityInfo,
	Title: "SYN backlog smaller than the accept queue",
	What: "With --expect-connections, flags net.ipv4.tcp_max_syn_backlog below net.core.somaxconn " +
		"(without an expected load the kernel-computed default is left alone).",
	Why: "Half-open connections wait in the SYN queue, bounded by tcp_max_syn_backlog; a SYN queue " +
		"smaller than the accept queue limits bursts before the accept queue can help (with " +
		"syncookies the kernel copes, but loses TCP options such as window scaling on those " +
		"connections).",
	Fix:    "Set net.ipv4.tcp_max_syn_backlog at least to net.core.somaxconn.",
	Source: "Documentation/networking/ip-sysctl.rst tcp_max_syn_backlog, tcp_syncookies",
	Check: func(in *Input) []model.Finding {
		if in.ExpectConnections <= 0 {
			return nil
		}
		var out []model.Finding
		for _, ns := range in.Snapshot.Namespaces {
			_, somax, ok1 := sysctlInt(ns.Sysctls, model.KeySomaxconn)
			s, syn, ok2 := sysctlInt(ns.Sysctls, model.KeyMaxSynBacklog)
			if !ok1 || !ok2 || syn >= somax {
				continue
			}
			sm, _ := model.Lookup(ns.Sysctls, model.KeySomaxconn)
			out = append(out, model.Finding{
				Severity: model.SeverityInfo, Subject: subject(ns, model.KeyMaxSynBacklog), Namespace: nsLabel(ns),
				Message:  fmt.Sprintf("tcp_max_syn_backlog = %d is below somaxconn = %d: the SYN queue fills before the accept queue.", syn, somax),
				Evidence: []model.Evidence{evidence(s), evidence(sm)},
				Location: model.LocationOf(s.Source),
				Fix:      sysctlFixFromPlan(in, ns, setting{sysctl: s, proposed: fmt.Sprint(somax)}),
			})
		}
		return out
	},
}

// headroom is the plan's descriptor need beyond the expected connections.
func headroom(n int) int64 { return plan.Headroom(n) }

var fileMaxLow = Rule{
	ID: "KT403", Name: "file-max-low", Severity: model.SeverityError,
	Title: "fs.file-max or fs.nr_open below the expected connections",
	What: "With --expect-connections N, checks that the host-wide descriptor limit fs.file-max and the " +
		"per-process ceiling fs.nr_open leave room for N sockets plus a quarter and 1024 more.",
	Why: "Every connection is a file descriptor. When fs.file-max is reached every process gets ENFILE " +
		"(\"Too many open files in system\"); no process can raise its nofile limit above fs.nr_open.",
	Fix:    "Raise fs.file-max / fs.nr_open to at least the computed need.",
	Source: "Documentation/admin-guide/sysctl/fs.rst",
	Check: func(in *Input) []model.Finding {
		if in.ExpectConnections <= 0 {
			return nil
		}
		need := headroom(in.ExpectConnections)
		var out []model.Finding
		host := currentNamespace(in.Snapshot)
		for _, key := range []string{model.KeyFileMax, model.KeyNrOpen} {
			s, v, ok := sysctlInt(in.Snapshot.Global, key)
			if !ok || v >= need {
				continue
			}
			out = append(out, model.Finding{
				Severity: model.SeverityError, Subject: key,
				Message: fmt.Sprintf("%s = %d leaves no room for %d expected connections (need about %d with headroom).",
					key, v, in.ExpectConnections, need),
				Evidence: []model.Evidence{evidence(s), {Name: "expected connections", Value: fmt.Sprint(in.ExpectConnections)}},
				Location: model.LocationOf(s.Source),
				Fix:      sysctlFixFromPlan(in, host, setting{sysctl: s, proposed: fmt.Sprint(roundUp(need))}),
			})
		}
		return out
	},
}

var nofileLow = Rule{
	ID: "KT404", Name: "nofile-low", Severity: model.SeverityWarning,
	Title: "Listening process with too few file descriptors",
	What: "For every process with a listening TCP socket, compares its RLIMIT_NOFILE soft limit " +
		"(/proc/PID/limits) with --expect-connections N, and, with or without N, flags processes " +
		"that already use 80% of their limit.",
	Why: "A server at its descriptor limit cannot accept: accept() fails with EMFILE, the listen " +
		"queue fills, and clients time out while the machine looks idle. The default soft limit of " +
		"1024 is far below what a busy proxy holds.",
	Fix: "Raise the service's limit: LimitNOFILE= in its systemd unit (systemctl edit UNIT), or " +
		"ulimit -n before it starts; nginx also has worker_rlimit_nofile.",
	Source: "getrlimit(2), systemd.exec(5) LimitNOFILE=",
	Check: func(in *Input) []model.Finding {
		var out []model.Finding
		for _, g := range programsListening(in.Snapshot.Processes) {
			if f, ok := nofileFinding(in, g); ok {
				out = append(out, f)
			}
		}
		return out
	},
}

// program is the processes of one server: an nginx master and its workers, a pre-forked
// gunicorn. KT404 speaks of the program once, not once per worker.
type program struct {
	procs []model.Process // sorted by PID: the first is the parent
}

func (g program) lead() model.Process { return g.procs[0] }

func (g program) name() string {
	p := g.lead()
	if len(g.procs) == 1 {
		return fmt.Sprintf("process %s (pid %d)", p.Comm, p.PID)
	}
	return fmt.Sprintf("program %s (pid %d and %d more)", p.Comm, p.PID, len(g.procs)-1)
}

// programsListening groups the processes with a readable descriptor limit into programs (same
// systemd unit, or same command and executable outside units) and keeps the programs that
// listen.
func programsListening(procs []model.Process) []program {
	byKey := map[string]*program{}
	var order []string
	for _, p := range procs {
		if !p.NofileSoft.Known || p.NofileSoft.Value < 0 {
			continue
		}
		key := "unit " + p.Unit + " " + p.Comm
		if p.Unit == "" {
			key = "comm " + p.Comm + " " + p.Exe
		}
		g, ok := byKey[key]
		if !ok {
			g = &program{}
			byKey[key] = g
			order = append(order, key)
		}
		g.procs = append(g.procs, p)
	}
	var out []program
	for _, k := range order {
		g := byKey[k]
		listening := false
		for _, p := range g.procs {
			listening = listening || len(p.Listening) > 0
		}
		if !listening {
			continue
		}
		slices.SortFunc(g.procs, func(a, b model.Process) int { return a.PID - b.PID })
		out = append(out, *g)
	}
	return out
}

// nofileFinding judges one program: the tightest descriptor limit among its processes against
// --expect-connections, or any process already near its own limit. For nginx it names the
// limit that binds: worker_connections or the descriptor limit (worker_rlimit_nofile when set).
func nofileFinding(in *Input, g program) (model.Finding, bool) {
	lead := g.lead()
	tight, busiest := lead, lead
	var listening []string
	for _, p := range g.procs {
		if p.NofileSoft.Value < tight.NofileSoft.Value {
			tight = p
		}
		if p.NofileSoft.Value > 0 && p.OpenFiles*int(busiest.NofileSoft.Value) > busiest.OpenFiles*int(p.NofileSoft.Value) {
			busiest = p
		}
		for _, l := range p.Listening {
			if !slices.Contains(listening, l) {
				listening = append(listening, l)
			}
		}
	}
	soft := tight.NofileSoft.Value
	who := g.name()
	ev := []model.Evidence{{Name: "nofile soft limit", Value: fmt.Sprint(soft), Source: tight.NofileSoft.Source},
		{Name: "listening on", Value: strings.Join(listening, " ")}}
	if tight.NofileHard.Known {
		ev = append(ev, model.Evidence{Name: "nofile hard limit", Value: limitString(tight.NofileHard.Value), Source: tight.NofileHard.Source})
	}
	if busiest.OpenFiles > 0 {
		ev = append(ev, model.Evidence{Name: "open descriptors", Value: fmt.Sprintf("%d (pid %d)", busiest.OpenFiles, busiest.PID)})
	}
	judged := false // nginx's own limits decided against --expect-connections
	if lead.Comm == "nginx" {
		f, ok, j := nginxConnectionLimit(in, g, soft, who, ev)
		if ok {
			return f, true
		}
		judged = j
	}
	switch {
	case !judged && in.ExpectConnections > 0 && soft < int64(in.ExpectConnections):
		need := roundUp(headroom(in.ExpectConnections))
		return model.Finding{
			Severity: model.SeverityWarning, Subject: who,
			Message: fmt.Sprintf("%s listens on %s with a soft limit of %d descriptors: if it is to hold the %d expected connections, accept() fails with EMFILE long before.",
				who, strings.Join(listening, " "), soft, in.ExpectConnections),
			Evidence: append(ev, model.Evidence{Name: "expected connections", Value: fmt.Sprint(in.ExpectConnections)}),
			Fix:      nofileFix(lead, need),
		}, true
	case busiest.OpenFiles > 0 && int64(busiest.OpenFiles)*5 >= busiest.NofileSoft.Value*4:
		need := roundUp(int64(busiest.OpenFiles) * 2)
		return model.Finding{
			Severity: model.SeverityWarning, Subject: who,
			Message:  fmt.Sprintf("%s already holds %d of its %d descriptors (pid %d): new connections will fail with EMFILE.", who, busiest.OpenFiles, busiest.NofileSoft.Value, busiest.PID),
			Evidence: ev,
			Fix:      nofileFix(lead, need),
		}, true
	}
	return model.Finding{}, false
}

// nginxConnectionLimit applies to an nginx whose configuration audit read: each worker holds at
// most min(worker_connections, its descriptor limit) connections, and worker_rlimit_nofile
// replaces the descriptor limit for workers. It names the one that binds first.
func nginxConnectionLimit(in *Input, g program, soft int64, who string, ev []model.Evidence) (f model.Finding, found, judged bool) {
	var cfg *configs.Config
	for _, c := range in.Configs {
		if c == nil || c.Format != "nginx" {
			continue
		}
		for _, p := range g.procs {
			if strings.HasPrefix(c.Origin, fmt.Sprintf("running, pid %d ", p.PID)) {
				cfg = c
			}
		}
	}
	if cfg == nil {
		return model.Finding{}, false, false
	}
	wc, wcLoc := int64(512), (*model.Location)(nil) // nginx's default worker_connections
	wcSrc := model.Source{Kind: model.SourceRuntimeDefault, Detail: "nginx worker_connections default 512"}
	limit, limitSrc, limitName := soft, ev[0].Source, "the descriptor limit"
	var rlimitLoc *model.Location
	nc, _ := cfg.Detail.(*nginx.Config)
	if nc == nil {
		return model.Finding{}, false, false
	}
	for _, d := range nginxTopDirectives(nc.Tree) {
		if len(d.Args) == 0 {
			continue
		}
		n, err := strconv.ParseInt(d.Args[0], 10, 64)
		if err != nil {
			continue
		}
		loc := model.Location{File: d.File, Line: d.Line}
		switch d.Name {
		case "worker_connections":
			wc, wcLoc = n, &loc
			wcSrc = model.Source{Kind: model.SourceConfig, File: loc.File, Line: loc.Line}
		case "worker_rlimit_nofile":
			limit, limitName, rlimitLoc = n, "worker_rlimit_nofile", &loc
			limitSrc = model.Source{Kind: model.SourceConfig, File: loc.File, Line: loc.Line}
		}
	}
	workers := max(len(g.procs)-1, 1)
	ev = append(ev, model.Evidence{Name: "worker_connections", Value: fmt.Sprint(wc), Source: wcSrc})
	if rlimitLoc != nil {
		ev = append(ev, model.Evidence{Name: "worker_rlimit_nofile", Value: fmt.Sprint(limit), Source: limitSrc})
	}
	binding, bindName := wc, "worker_connections"
	if limit < wc {
		binding, bindName = limit, limitName
	}
	capacity := binding * int64(workers)
	if in.ExpectConnections <= 0 || capacity >= int64(in.ExpectConnections) {
		return model.Finding{}, false, in.ExpectConnections > 0
	}
	perWorker := roundUp(headroom((in.ExpectConnections + workers - 1) / workers))
	f = model.Finding{
		Severity: model.SeverityWarning, Subject: who,
		Message: fmt.Sprintf("%s can hold about %d connections (%d %s × %d per worker): %s binds first, below the %d expected connections.",
			who, capacity, workers, textfmt.Plural(workers, "worker", "workers"), binding, bindName, in.ExpectConnections),
		Evidence: append(ev, model.Evidence{Name: "expected connections", Value: fmt.Sprint(in.ExpectConnections)}),
	}
	switch {
	case bindName == "worker_connections":
		f.Location = wcLoc
		f.Fix = &model.Fix{Key: "worker_connections", Current: fmt.Sprint(wc), Proposed: fmt.Sprint(perWorker),
			Line: fmt.Sprintf("worker_connections %d;", perWorker), File: cfg.File, Apply: "nginx -t && nginx -s reload",
			Note: fmt.Sprintf("In the events block; each worker also needs that many descriptors (worker_rlimit_nofile %d; in the main context).", perWorker)}
		if wcLoc != nil {
			f.Fix.File, f.Fix.FileLine = wcLoc.File, wcLoc.Line
		}
	case rlimitLoc != nil:
		f.Location = rlimitLoc
		f.Fix = &model.Fix{Key: "worker_rlimit_nofile", Current: fmt.Sprint(limit), Proposed: fmt.Sprint(perWorker),
			Line: fmt.Sprintf("worker_rlimit_nofile %d;", perWorker), File: rlimitLoc.File, FileLine: rlimitLoc.Line, Apply: "nginx -t && nginx -s reload"}
	default:
		f.Fix = &model.Fix{Key: "worker_rlimit_nofile", Current: fmt.Sprint(limit), Proposed: fmt.Sprint(perWorker),
			Line: fmt.Sprintf("worker_rlimit_nofile %d;", perWorker), File: cfg.File, Apply: "nginx -t && nginx -s reload",
			Note: "In the main context (outside any block): it raises the workers' descriptor limit without touching the service's LimitNOFILE."}
	}
	return f, true, true
}

func nofileFix(p model.Process, need int64) *model.Fix {
	f := &model.Fix{Key: "LimitNOFILE", Current: fmt.Sprint(p.NofileSoft.Value), Proposed: fmt.Sprint(need),
		Line: fmt.Sprintf("LimitNOFILE=%d", need)}
	if p.Unit != "" {
		f.File = "/etc/systemd/system/" + p.Unit + ".d/keeptune.conf"
		f.Apply = "systemctl daemon-reload && systemctl restart " + p.Unit
		f.Note = "Put the line under [Service]; `systemctl edit " + p.Unit + "` creates the drop-in."
	} else {
		f.Note = fmt.Sprintf("Raise the limit where %s is started: LimitNOFILE= under [Service] in its systemd unit, or ulimit -n %d in its start script.", p.Comm, need)
	}
	return f
}

var conntrackTableFill = Rule{
	ID: "KT405", Name: "conntrack-table-fill", Severity: model.SeverityError,
	Title: "Connection tracking table full or too small",
	What: "Where nf_conntrack is loaded, compares nf_conntrack_count with nf_conntrack_max (warning " +
		"at 80%, error at 95%) and, with --expect-connections N, nf_conntrack_max with N.",
	Why: "When the table is full the kernel drops the first packet of every new flow (\"nf_conntrack: " +
		"table full, dropping packet\"): new connections time out while established ones work.",
	Fix:    "Raise net.netfilter.nf_conntrack_max (and nf_conntrack_buckets), or shorten the timeouts that keep dead flows in the table.",
	Source: "Documentation/networking/nf_conntrack-sysctl.rst",
	Check: func(in *Input) []model.Finding {
		var out []model.Finding
		max, maxOK := conntrackMax(in.Snapshot)
		host := currentNamespace(in.Snapshot)
		for _, ns := range in.Snapshot.Namespaces {
			ct := ns.Conntrack
			if ct == nil || !ct.Count.Known || !maxOK || max.Value <= 0 {
				continue
			}
			fill := float64(ct.Count.Value) / float64(max.Value)
			if fill < 0.8 {
				continue
			}
			sev := model.SeverityWarning
			if fill >= 0.95 {
				sev = model.SeverityError
			}
			s, _ := model.Lookup(in.Snapshot.Global, model.KeyConntrackMax)
			out = append(out, model.Finding{
				Severity: sev, Subject: "conntrack table in " + nsLabel(ns), Namespace: nsLabel(ns),
				Message: fmt.Sprintf("The connection tracking table is %.0f%% full (%d of %d entries): at 100%% the kernel drops the first packet of every new flow.",
					fill*100, ct.Count.Value, max.Value),
				Evidence: []model.Evidence{{Name: model.KeyConntrackCount, Value: fmt.Sprint(ct.Count.Value), Source: ct.Count.Source}, evidence(s)},
				Location: model.LocationOf(s.Source),
				Fix:      sysctlFixFromPlan(in, host, setting{sysctl: s, proposed: fmt.Sprint(roundUp(int64(ct.Count.Value) * 2))}),
			})
		}
		if in.ExpectConnections > 0 && maxOK && int64(max.Value) < int64(in.ExpectConnections) {
			s, _ := model.Lookup(in.Snapshot.Global, model.KeyConntrackMax)
			out = append(out, model.Finding{
				Severity: model.SeverityError, Subject: model.KeyConntrackMax,
				Message: fmt.Sprintf("nf_conntrack_max = %d is below the %d expected connections: once the table is full new flows are dropped.",
					max.Value, in.ExpectConnections),
				Evidence: []model.Evidence{evidence(s), {Name: "expected connections", Value: fmt.Sprint(in.ExpectConnections)}},
				Location: model.LocationOf(s.Source),
				Fix:      sysctlFixFromPlan(in, host, setting{sysctl: s, proposed: fmt.Sprint(roundUp(headroom(in.ExpectConnections) * 2))}),
			})
		}
		return out
	},
}

func conntrackMax(snap *model.Snapshot) (model.Setting[int], bool) {
	s, v, ok := sysctlInt(snap.Global, model.KeyConntrackMax)
	if !ok {
		return model.Setting[int]{}, false
	}
	return model.KnownSetting(int(v), s.Source), true
}

func currentNamespace(snap *model.Snapshot) model.Namespace {
	for _, ns := range snap.Namespaces {
		if ns.Current {
			return ns
		}
	}
	return model.Namespace{Current: true, Name: "host"}
}

// roundUp rounds a proposed limit up to a tidy number (two significant digits).
func roundUp(n int64) int64 { return plan.RoundUp(n) }

func limitString(v int64) string {
	if v < 0 {
		return "unlimited"
	}
	return fmt.Sprint(v)
}

// nginxTopDirectives lists the main-context directives and those of the events block, where
// worker_rlimit_nofile and worker_connections live.
func nginxTopDirectives(tree []*nginx.Directive) []*nginx.Directive {
	var out []*nginx.Directive
	for _, d := range tree {
		if d.Name == "events" {
			out = append(out, d.Block...)
			continue
		}
		if !d.IsBlock() {
			out = append(out, d)
		}
	}
	return out
}
