package report

import (
	"fmt"
	"slices"
	"time"

	"github.com/keeptune/keeptune/internal/configs"
	"github.com/keeptune/keeptune/internal/model"
)

// The fixtures are hand-made so that every part of every renderer has something to show, and
// every field of the model is set somewhere (TestFixtureCoversModel keeps it that way: a field
// added to the model must show up in the fixture, hence in the goldens and in docs/json.md).

var (
	kernelDefault = model.Source{Kind: model.SourceKernelDefault}
	runtimeSet    = model.Source{Kind: model.SourceRuntime}
	live          = model.Source{Kind: model.SourceLive, Detail: "/proc/sys"}
)

func fileSource(file string, line int) model.Source {
	return model.Source{Kind: model.SourceSysctlFile, File: file, Line: line}
}

func sysctl(key, value string, src model.Source, def string) model.Sysctl {
	return model.Sysctl{Key: key, Value: value, Readable: true, Default: def, Source: src}
}

func testTool() ToolInfo {
	return ToolInfo{
		Name:           "keeptune",
		Version:        "0.3.0",
		InformationURI: "https://github.com/keeptune/keeptune",
		DocsURI:        "https://github.com/keeptune/keeptune/blob/v0.3.0/",
	}
}

// testProfile is a custom profile (a profiles file's own ranges), so that the examples built from
// it do not misstate a built-in profile's.
func testProfile() model.Profile {
	return model.Profile{
		Name:              "edge-proxy",
		Description:       "A custom profile: reverse proxies in front of many long-lived client connections",
		Source:            "profiles.yaml:3 (a custom profile, not one of keeptune's)",
		Idle:              model.DurationRange{Min: 5 * time.Minute, Max: 15 * time.Minute, Recommended: 10 * time.Minute},
		Interval:          model.DurationRange{Min: 15 * time.Second, Max: 75 * time.Second, Recommended: 30 * time.Second},
		Probes:            model.IntRange{Min: 3, Max: 9, Recommended: 5},
		MaxDetection:      36 * time.Minute,
		MaxUnackedTimeout: 5 * time.Minute,
		Retries2:          8,
	}
}

func testRules() []RuleInfo {
	return []RuleInfo{
		{ID: "KT002", Name: "sysctl-syntax", Title: "Unreadable line in a sysctl file", Severity: model.SeverityWarning,
			HelpURI: "docs/rules.md#kt002", Description: "A line in a sysctl configuration file is not `key = value`; systemd-sysctl skips it."},
		{ID: "KT101", Name: "keepalive-detection-time", Title: "Dead-peer detection time outside the profile", Severity: model.SeverityError,
			HelpURI: "docs/rules.md#kt101", Description: "idle + intvl*probes of the namespace's keepalive sysctls exceeds the profile's maximum detection time."},
		{ID: "KT104", Name: "keepalive-probes-range", Title: "net.ipv4.tcp_keepalive_probes outside the profile range", Severity: model.SeverityWarning,
			HelpURI: "docs/rules.md#kt104", Description: "tcp_keepalive_probes is outside the profile's range."},
		{ID: "KT106", Title: "Sysctl files disagree", Severity: model.SeverityWarning,
			HelpURI: "https://example.com/keeptune/kt106", Description: "More than one sysctl file sets the key; only the last one counts."},
		{ID: "KT201", Name: "unacked-data-timeout", Title: "Long hang on unacknowledged data (tcp_retries2)", Severity: model.SeverityWarning,
			HelpURI: "docs/rules.md#kt201", Description: "tcp_retries2 lets a connection with unacknowledged data hang longer than the profile allows."},
		{ID: "KT601", Name: "go-ignores-sysctls", Title: "Go program: keepalive sysctls do not apply", Severity: model.SeverityWarning,
			HelpURI: "docs/rules.md#kt601", Description: "The Go runtime enables keepalive with its own values, ignoring the sysctls."},
		{ID: "KT705", Name: "user-timeout-mismatch", Title: "TCP_USER_TIMEOUT cuts keepalive short or outlasts the read timeout", Severity: model.SeverityWarning,
			HelpURI: "docs/rules.md#kt705", Description: "TCP_USER_TIMEOUT should be at least idle + interval × count and below the read timeout."},
		{ID: "KT706", Name: "grpc-keepalive-policy", Title: "gRPC client pings faster than the server allows", Severity: model.SeverityError,
			HelpURI: "docs/rules.md#kt706", Description: "A gRPC client's keepalive Time must be at least the server's EnforcementPolicy.MinTime."},
		{ID: "KT707", Name: "http2-ping-through-l7", Title: "HTTP/2 PING does not keep a layer-7 balancer's idle timer alive", Severity: model.SeverityWarning,
			HelpURI: "docs/rules.md#kt707", Description: "An opener relies on HTTP/2 or gRPC pings to keep connections open through a balancer that counts only data."},
	}
}

func hostKeepalive() model.KeepaliveSettings {
	return model.KeepaliveSettings{
		Enabled:  model.Setting[bool]{},
		Idle:     model.KnownSetting(7200*time.Second, kernelDefault),
		Interval: model.KnownSetting(75*time.Second, kernelDefault),
		Count:    model.KnownSetting(9, kernelDefault),
	}
}

func testSnapshot() *model.Snapshot {
	tune := "/etc/sysctl.d/99-tune.conf"
	return &model.Snapshot{
		Host: model.HostInfo{
			Hostname: "web-1",
			Kernel:   "6.8.0-45-generic",
			Root:     "/",
			Euid:     1000,
			TakenAt:  time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC),
		},
		Namespaces: []model.Namespace{
			{
				Inode:   4026531840,
				Name:    "host",
				Current: true,
				PIDs:    []int{1},
				Sysctls: []model.Sysctl{
					sysctl(model.KeyKeepaliveTime, "7200", kernelDefault, "7200"),
					sysctl(model.KeyKeepaliveIntvl, "75", kernelDefault, "75"),
					sysctl(model.KeyKeepaliveProbes, "9", kernelDefault, "9"),
					{
						Key: model.KeyRetries2, Value: "15", Readable: true, Default: "15", Source: fileSource(tune, 5),
						Assignments: []model.SysctlAssignment{{File: tune, Line: 5, Value: "15"},
							{File: "/etc/sysctl.conf", Line: 9, Value: "15", Text: "net.ipv4.tcp_retries2=15", ProcpsOnly: true}}, // sysctl --system applies it last
					},
					{
						Key: model.KeyFinTimeout, Value: "30", Readable: true, Default: "60", Source: fileSource(tune, 4),
						Assignments: []model.SysctlAssignment{
							{File: "/usr/lib/sysctl.d/50-net.conf", Line: 7, Value: "15"},
							{File: tune, Line: 4, Value: "30", IgnoreErrors: true},
						},
					},
					sysctl(model.KeySynRetries, "6", kernelDefault, "6"),
					sysctl(model.KeySomaxconn, "4096", kernelDefault, "4096"),
					{Key: model.KeyMaxSynBacklog, Source: model.Source{Kind: model.SourceLive, Detail: "permission denied"}},
					sysctl(model.KeyConntrackEstablished, "432000", kernelDefault, "432000"),
					sysctl(model.KeyConntrackCount, "1200", live, ""),
				},
				Keepalive: hostKeepalive(),
				Conntrack: &model.Conntrack{
					EstablishedTimeout: model.KnownSetting(432000*time.Second, kernelDefault),
					Max:                model.KnownSetting(262144, fileSource("/etc/sysctl.d/90-conntrack.conf", 1)),
					Count:              model.KnownSetting(1200, live),
				},
			},
			{
				Inode: 4026532456,
				Name:  "cni-3f2a9c",
				PIDs:  []int{2301, 2302},
				Sysctls: []model.Sysctl{
					sysctl(model.KeyKeepaliveTime, "600", runtimeSet, "7200"),
					sysctl(model.KeyKeepaliveIntvl, "75", kernelDefault, "75"),
					sysctl(model.KeyKeepaliveProbes, "20", runtimeSet, "9"),
					sysctl(model.KeyRetries2, "15", kernelDefault, "15"),
					sysctl(model.KeyFinTimeout, "60", kernelDefault, "60"),
					sysctl(model.KeySynRetries, "6", kernelDefault, "6"),
					sysctl(model.KeySomaxconn, "128", runtimeSet, "4096"),
				},
				Keepalive: model.KeepaliveSettings{
					Idle:        model.KnownSetting(600*time.Second, runtimeSet),
					Interval:    model.KnownSetting(75*time.Second, kernelDefault),
					Count:       model.KnownSetting(20, runtimeSet),
					UserTimeout: model.Setting[time.Duration]{},
				},
			},
		},
		Global: []model.Sysctl{
			sysctl(model.KeyFileMax, "9223372036854775807", live, ""),
			sysctl(model.KeyNrOpen, "1048576", kernelDefault, "1048576"),
			{
				Key: model.KeyConntrackMax, Value: "262144", Readable: true, Source: fileSource("/etc/sysctl.d/90-conntrack.conf", 1),
				Assignments: []model.SysctlAssignment{{File: "/etc/sysctl.d/90-conntrack.conf", Line: 1, Value: "262144"}},
			},
		},
		SysctlFiles: []string{
			"/etc/sysctl.d/10-local.conf",
			"/usr/lib/sysctl.d/50-net.conf",
			"/etc/sysctl.d/90-conntrack.conf",
			tune,
		},
		Conflicts: []model.SysctlConflict{{
			Key: model.KeyFinTimeout,
			Assignments: []model.SysctlAssignment{
				{File: "/usr/lib/sysctl.d/50-net.conf", Line: 7, Value: "15"},
				{File: tune, Line: 4, Value: "30", IgnoreErrors: true},
			},
		}},
		Processes: []model.Process{
			{
				PID: 812, Comm: "nginx", Exe: "/usr/sbin/nginx", Unit: "nginx.service", NetnsInode: 4026531840,
				Listening:  []string{"0.0.0.0:80", "0.0.0.0:443", "[::]:80", "[::]:443"},
				TCPSockets: 214,
				NofileSoft: model.KnownSetting(int64(1024), model.Source{Kind: model.SourceLive, Detail: "/proc/812/limits"}),
				NofileHard: model.KnownSetting(int64(524288), model.Source{Kind: model.SourceLive, Detail: "/proc/812/limits"}),
				OpenFiles:  230,
			},
			{
				PID: 1290, Comm: "api", Exe: "/opt/api/bin/api", NetnsInode: 4026531840,
				Listening:  []string{"127.0.0.1:8080"},
				TCPSockets: 57,
				NofileSoft: model.KnownSetting(int64(1048576), model.Source{Kind: model.SourceLive, Detail: "/proc/1290/limits"}),
				NofileHard: model.KnownSetting(int64(1048576), model.Source{Kind: model.SourceLive, Detail: "/proc/1290/limits"}),
				Go: &model.GoBinary{
					Version: "go1.22.3",
					Path:    "example.com/api/cmd/api",
					Keepalive: model.KeepaliveSettings{
						Enabled:     model.KnownSetting(true, model.Source{Kind: model.SourceRuntimeDefault, Detail: "Go 1.22 net.Dialer and net.ListenConfig"}),
						Idle:        model.KnownSetting(15*time.Second, model.Source{Kind: model.SourceRuntimeDefault, Detail: "Go 1.22"}),
						Interval:    model.KnownSetting(15*time.Second, model.Source{Kind: model.SourceRuntimeDefault, Detail: "Go 1.22"}),
						Count:       model.KnownSetting(9, model.Source{Kind: model.SourceRuntimeDefault, Detail: "Go 1.22"}),
						UserTimeout: model.KnownSetting(1500*time.Millisecond, model.Source{Kind: model.SourceSocket, Detail: "read back from fd 7"}),
					},
				},
			},
			{
				PID: 2301, Comm: "envoy", NetnsInode: 4026532456,
				TCPSockets: 12,
				NofileSoft: model.Setting[int64]{},
				NofileHard: model.KnownSetting(int64(-1), model.Source{Kind: model.SourceLive}),
			},
		},
		Sockets: []model.SocketStats{{PID: 812, Comm: "nginx", NetnsInode: 4026531840, Established: 214, KeepaliveOn: 200, KeepaliveOff: 14,
			CloseWaitLeaks: 3, OldestCloseWait: 95 * time.Second, IdleNoKeepalive: 2, LongestIdle: 20 * time.Minute, SilentPeers: 1,
			Sampled: 8, Overridden: 8, Override: &model.KeepaliveSettings{
				Enabled: model.KnownSetting(true, model.Source{Kind: model.SourceSocket, Detail: "set by program"}),
				Idle:    model.KnownSetting(30*time.Second, model.Source{Kind: model.SourceSocket, Detail: "set by program"}),
			}, Cgroup: "/system.slice/nginx.service", Enforced: "/system.slice/nginx.service: keepalive 60s/10s/6, user timeout 120s, default mode"}},
		Problems: []model.Problem{
			{What: "/proc/2301/limits", Err: "open /proc/2301/limits: permission denied", Needs: "root"},
			{What: "file descriptors of pid 1290 (/proc/1290/fd)", Err: "open /proc/1290/fd: permission denied", Needs: "CAP_SYS_PTRACE"},
			{What: model.KeyMaxSynBacklog, Err: "read /proc/sys/net/ipv4/tcp_max_syn_backlog: input/output error", Sysctl: model.KeyMaxSynBacklog},
			{What: "a line of /etc/sysctl.d/10-local.conf", Err: "no '=' in \"net.ipv4.tcp_keepalive_time 600\"",
				Location: &model.Location{File: "/etc/sysctl.d/10-local.conf", Line: 3}},
		},
	}
}

// testFindings are deliberately out of report order: the renderers must sort them.
func testFindings() []model.Finding {
	tune := "/etc/sysctl.d/99-tune.conf"
	return []model.Finding{
		{
			Rule: "KT601", Severity: model.SeverityInfo, Subject: "process api (pid 1290)",
			Message: "The Go runtime turns keepalive on for every connection with 15s idle, 15s interval and 9 probes; the namespace's sysctls do not apply to it.",
			Evidence: []model.Evidence{
				{Name: "Go version", Value: "go1.22.3", Source: model.Source{Kind: model.SourceRuntimeDefault, Detail: "debug/buildinfo"}},
			},
			Fix: &model.Fix{Note: "Nothing to change unless the profile needs other values: set net.Dialer.KeepAliveConfig and net.ListenConfig.KeepAliveConfig in the program."},
		},
		{
			Rule: "KT201", Severity: model.SeverityWarning, Subject: "net.ipv4.tcp_retries2 in host", Namespace: "host",
			Message: "With tcp_retries2 = 15 a connection whose peer stopped acknowledging data hangs for about 15m25s before the kernel gives up; the profile allows 5m.",
			Evidence: []model.Evidence{
				{Name: model.KeyRetries2, Value: "15", Source: fileSource(tune, 5)},
				{Name: "profile max unacked timeout", Value: "5m", Source: model.Source{Kind: model.SourceProfile, Detail: "edge-proxy"}},
			},
			Location: &model.Location{File: tune, Line: 5, Column: 1},
			Fix: &model.Fix{
				Key: model.KeyRetries2, Current: "15", Proposed: "8",
				Line: "net.ipv4.tcp_retries2 = 8", File: tune, FileLine: 5,
				Apply: "sysctl -w net.ipv4.tcp_retries2=8",
			},
		},
		{
			Rule: "KT101", Severity: model.SeverityError, Subject: "net.ipv4.tcp_keepalive_time in host", Namespace: "host",
			Message: "A peer that vanishes from an idle connection is noticed after 2h11m15s (idle 2h + 9 probes every 1m15s); profile edge-proxy allows 36m. NATs and load balancers forget idle flows long before that, so connections die silently.",
			Evidence: []model.Evidence{
				{Name: model.KeyKeepaliveTime, Value: "7200", Source: kernelDefault},
				{Name: model.KeyKeepaliveIntvl, Value: "75", Source: kernelDefault},
				{Name: model.KeyKeepaliveProbes, Value: "9", Source: kernelDefault},
			},
			Fix: &model.Fix{
				Key: model.KeyKeepaliveTime, Current: "7200", Proposed: "600",
				Line: "net.ipv4.tcp_keepalive_time = 600", File: "/etc/sysctl.d/60-keeptune.conf",
				Apply: "sysctl -w net.ipv4.tcp_keepalive_time=600",
			},
		},
		{
			Rule: "KT002", Severity: model.SeverityWarning, Subject: "/etc/sysctl.d/10-local.conf:3",
			Message:  "This line is not `key = value`, so systemd-sysctl skips it at boot: net.ipv4.tcp_keepalive_time 600",
			Location: &model.Location{File: "/etc/sysctl.d/10-local.conf", Line: 3},
			Fix:      &model.Fix{File: "/etc/sysctl.d/10-local.conf", FileLine: 3, Note: "Write it as `key = value`, or comment it out with #."},
		},
		{
			Rule: "KT104", Severity: model.SeverityWarning, Subject: "net.ipv4.tcp_keepalive_probes", Namespace: "cni-3f2a9c",
			Message: "20 keepalive probes is above the profile's 9.",
			Evidence: []model.Evidence{
				{Name: model.KeyKeepaliveProbes, Value: "20", Source: runtimeSet},
			},
			Fix: &model.Fix{
				Key: model.KeyKeepaliveProbes, Current: "20", Proposed: "5",
				Note: "This namespace belongs to a pod: set net.ipv4.tcp_keepalive_probes=5 in the pod's securityContext.sysctls; a sysctl.d file on the node does not reach it.",
			},
		},
		{
			Rule: "KT106", Severity: model.SeverityInfo, Subject: model.KeyFinTimeout,
			Message:  "Two files set net.ipv4.tcp_fin_timeout; /etc/sysctl.d/99-tune.conf:4 wins.",
			Evidence: nil,
			Location: &model.Location{File: "/usr/lib/sysctl.d/50-net.conf", Line: 7},
			Fix:      &model.Fix{Note: "Keep one assignment: delete line 4 of /etc/sysctl.d/99-tune.conf, or copy /usr/lib/sysctl.d/50-net.conf to /etc/sysctl.d/ and change it there."},
		},
	}
}

// chainFile is the chain file of the fixture:
//
//	profile: edge-proxy                                   # 1
//	expect: {connections: 50000}                           # 2
//	chain:                                                 # 3
//	  - {name: clients, type: client, runtime: go, http2_ping: 30s}
//	  - {name: nat, catalog: aws-nat-gateway}              # 5
//	  - {name: edge, catalog: aws-alb}                     # 6
//	  - name: envoy                                        # 7
//	    type: proxy
//	    config: /etc/envoy/envoy.yaml
//	    upstream: {user_timeout: 30s}                      # 10
//	  - name: app                                          # 11
//	    type: server
//	    runtime: grpc-go
//	    http_keepalive_timeout: 15m                        # 14
//	    user_timeout: 2m                                   # 15
//	    read_timeout: 1m                                   # 16
const chainFile = "keeptune.yaml"

func chainSource(line int) model.Source {
	return model.Source{Kind: model.SourceChainFile, File: chainFile, Line: line}
}

func catalogSource(entry string) model.Source {
	return model.Source{Kind: model.SourceCatalog, Detail: entry}
}

func runtimeDefault(detail string) model.Source {
	return model.Source{Kind: model.SourceRuntimeDefault, Detail: detail}
}

func envoyConfig(line int) model.Source {
	return model.Source{Kind: model.SourceConfig, File: "/etc/envoy/envoy.yaml", Line: line}
}

// testChain covers every kind of hop: a client with an upstream side only, a layer-4 and a
// layer-7 middlebox, a proxy with both sides (the upstream one speaking gRPC) and a gRPC server.
func testChain() *model.Chain {
	goDefault := runtimeDefault("Go 1.23 net/http")
	grpcDefault := runtimeDefault("grpc-go 1.64")
	envoyDefault := runtimeDefault("Envoy 1.30")
	return &model.Chain{
		File:              chainFile,
		Profile:           "edge-proxy",
		ExpectConnections: 50000,
		Hops: []model.Hop{
			{
				Name: "clients", Type: model.HopClient, Runtime: "go",
				Declared: model.Location{File: chainFile, Line: 4, Column: 5},
				Upstream: &model.Side{
					IdleTimeout: model.KnownSetting(90*time.Second, goDefault),
					Pools:       model.KnownSetting(true, goDefault),
					TCP: model.KeepaliveSettings{
						Enabled:  model.KnownSetting(true, goDefault),
						Idle:     model.KnownSetting(15*time.Second, goDefault),
						Interval: model.KnownSetting(15*time.Second, goDefault),
						Count:    model.KnownSetting(9, goDefault),
					},
					ConnectTimeout: model.KnownSetting(30*time.Second, goDefault),
					HTTP2Ping:      model.KnownSetting(30*time.Second, chainSource(4)),
				},
			},
			{
				Name: "nat", Type: model.HopMiddlebox, Catalog: "aws-nat-gateway",
				Declared: model.Location{File: chainFile, Line: 5, Column: 5},
				Middlebox: &model.Middlebox{
					IdleTimeout: model.KnownSetting(350*time.Second, catalogSource("aws-nat-gateway")),
					Layer:       model.KnownSetting(4, catalogSource("aws-nat-gateway")),
					RefreshedBy: model.KnownSetting(model.RefreshAnySegment, catalogSource("aws-nat-gateway")),
					OnExpiry:    model.KnownSetting(model.ExpiryReset, catalogSource("aws-nat-gateway")),
				},
			},
			{
				Name: "edge", Type: model.HopMiddlebox, Catalog: "aws-alb",
				Declared: model.Location{File: chainFile, Line: 6, Column: 5},
				Middlebox: &model.Middlebox{
					IdleTimeout:        model.KnownSetting(60*time.Second, catalogSource("aws-alb")),
					Layer:              model.KnownSetting(7, catalogSource("aws-alb")),
					RefreshedBy:        model.KnownSetting(model.RefreshPayload, catalogSource("aws-alb")),
					OnExpiry:           model.KnownSetting(model.ExpiryReset, catalogSource("aws-alb")),
					HTTP2PingRefreshes: model.KnownSetting(false, catalogSource("aws-alb")),
				},
			},
			{
				Name: "envoy", Type: model.HopProxy, Runtime: "envoy", Config: "/etc/envoy/envoy.yaml",
				Declared: model.Location{File: chainFile, Line: 7, Column: 5},
				Downstream: &model.Side{
					IdleTimeout: model.KnownSetting(time.Hour, envoyDefault),
					Pools:       model.KnownSetting(true, envoyDefault),
					TCP:         model.KeepaliveSettings{Enabled: model.KnownSetting(false, envoyDefault)},
					ReadTimeout: model.KnownSetting(5*time.Minute, envoyConfig(14)),
				},
				Upstream: &model.Side{
					IdleTimeout: model.KnownSetting(time.Hour, envoyDefault),
					Pools:       model.KnownSetting(true, envoyDefault),
					TCP: model.KeepaliveSettings{
						Enabled:     model.KnownSetting(true, envoyConfig(31)),
						Idle:        model.KnownSetting(10*time.Minute, envoyConfig(32)),
						Interval:    model.KnownSetting(75*time.Second, kernelDefault),
						Count:       model.KnownSetting(9, kernelDefault),
						UserTimeout: model.KnownSetting(30*time.Second, chainSource(10)),
					},
					ConnectTimeout: model.KnownSetting(5*time.Second, envoyConfig(28)),
					MaxLifetime:    model.KnownSetting(time.Hour, envoyConfig(29)),
					GRPC: &model.GRPCKeepalive{
						Time:    model.KnownSetting(30*time.Second, envoyConfig(35)),
						Timeout: model.KnownSetting(20*time.Second, envoyConfig(36)),
					},
				},
			},
			{
				Name: "app", Type: model.HopServer, Runtime: "grpc-go",
				Declared: model.Location{File: chainFile, Line: 11, Column: 5},
				Downstream: &model.Side{
					IdleTimeout: model.KnownSetting(15*time.Minute, chainSource(14)),
					Pools:       model.KnownSetting(true, grpcDefault),
					TCP: model.KeepaliveSettings{
						Enabled:     model.KnownSetting(true, grpcDefault),
						Idle:        model.KnownSetting(15*time.Second, grpcDefault),
						Interval:    model.KnownSetting(15*time.Second, grpcDefault),
						Count:       model.KnownSetting(9, grpcDefault),
						UserTimeout: model.KnownSetting(2*time.Minute, chainSource(15)),
					},
					ReadTimeout: model.KnownSetting(time.Minute, chainSource(16)),
					GRPC: &model.GRPCKeepalive{
						Time:                model.KnownSetting(2*time.Hour, grpcDefault),
						Timeout:             model.KnownSetting(20*time.Second, grpcDefault),
						PermitWithoutStream: model.KnownSetting(false, grpcDefault),
						MinTime:             model.KnownSetting(5*time.Minute, grpcDefault),
					},
				},
			},
		},
	}
}

// chainFindings are what the chain rules say about testChain: about a path through several
// hops (drawn above the last), about one hop (drawn under it, the last hop included), and one
// without a file location (SARIF names its hops instead).
func chainFindings() []model.Finding {
	return []model.Finding{
		{
			Rule: "KT705", Severity: model.SeverityWarning, Subject: "app downstream", Hops: []string{"app"},
			Message: "app's TCP_USER_TIMEOUT of 2m is not below its read timeout of 1m: the application gives up first, " +
				"and a dead peer shows as a generic timeout instead of ETIMEDOUT from the kernel.",
			Evidence: []model.Evidence{
				{Name: "user timeout", Value: "2m", Source: chainSource(15)},
				{Name: "read timeout", Value: "1m", Source: chainSource(16)},
			},
			Location: &model.Location{File: chainFile, Line: 15, Column: 5},
			Fix:      &model.Fix{Key: "app.downstream.user_timeout", Current: "2m", Proposed: "54s", Line: "user_timeout: 54000ms"},
		},
		{
			Rule: "KT706", Severity: model.SeverityError, Subject: "envoy -> app", Hops: []string{"envoy", "app"},
			Message: "envoy (envoy) pings every 30s, but app (grpc-go) enforces a minimum of 5m between pings: " +
				"it answers GOAWAY too_many_pings and drops the connection.",
			Evidence: []model.Evidence{
				{Name: "envoy keepalive time", Value: "30s", Source: envoyConfig(35)},
				{Name: "app enforcement MinTime", Value: "5m", Source: runtimeDefault("grpc-go 1.64")},
			},
			Location: &model.Location{File: "/etc/envoy/envoy.yaml", Line: 35},
			Fix: &model.Fix{
				Key: "envoy.upstream.grpc.time", Current: "30s", Proposed: "5m",
				Line: "http2_protocol_options: {connection_keepalive: {interval: 300s}} (Envoy cluster)",
				Note: "Or lower app's keepalive.EnforcementPolicy{MinTime: ...} to 30s or less.",
			},
		},
		{
			Rule: "KT707", Severity: model.SeverityWarning, Subject: "clients -> edge", Hops: []string{"clients", "nat", "edge"},
			Message: "clients (go) sends pings every 30s to keep connections open, but edge (aws-alb) counts only data against its 1m idle timeout: " +
				"it closes connections that carried nothing but pings.",
			Evidence: []model.Evidence{
				{Name: "clients ping interval", Value: "30s", Source: chainSource(4)},
				{Name: "edge idle timeout", Value: "1m", Source: catalogSource("aws-alb")},
				{Name: "edge counts HTTP/2 PING", Value: "no", Source: catalogSource("aws-alb")},
			},
			Fix: &model.Fix{Key: "edge.idle_timeout",
				Note: "Close idle connections in clients before 1m, raise edge's idle timeout above the longest expected silence, or send a small application heartbeat instead of PINGs."},
		},
		{
			Rule: "KT705", Severity: model.SeverityWarning, Subject: "envoy upstream", Hops: []string{"envoy"},
			Message: "envoy's TCP_USER_TIMEOUT of 30s is shorter than its keepalive cycle (10m + 9 × 1m15s = 21m15s): " +
				"the kernel kills an idle connection at 11m15s, after fewer probes than configured.",
			Evidence: []model.Evidence{
				{Name: "user timeout", Value: "30s", Source: chainSource(10)},
				{Name: "keepalive idle", Value: "10m", Source: envoyConfig(32)},
				{Name: "keepalive interval", Value: "1m15s", Source: kernelDefault},
				{Name: "keepalive count", Value: "9", Source: kernelDefault},
			},
			Location: &model.Location{File: chainFile, Line: 10, Column: 15},
			Fix:      &model.Fix{Key: "envoy.upstream.user_timeout", Current: "30s", Proposed: "21m15s", Line: "user_timeout: 1275s"},
		},
	}
}

// testReport is the full fixture: an audit with facts, a chain, findings of every severity
// (some about the chain's hops) and problems.
func testReport() Report {
	return Report{
		Tool:     testTool(),
		Command:  "audit",
		Profile:  testProfile(),
		Snapshot: testSnapshot(),
		Chains:   []*model.Chain{testChain()},
		Findings: append(testFindings(), chainFindings()...),
		Rules:    testRules(),
		Options:  map[string]string{"expect-connections": "50000", "fail-on": "warning"},
	}
}

// lintReport is a run without host facts and without findings.
func lintReport() Report {
	return Report{Tool: testTool(), Command: "lint", Rules: testRules(), Configs: []*configs.Config{nginxConfig()}}
}

// nginxConfig is a configuration file as a parser returns it: values located in the main file
// and an include, and the sides a chain hop takes.
func nginxConfig() *configs.Config {
	const main, inc = "/etc/nginx/nginx.conf", "/etc/nginx/conf.d/app.conf"
	src := func(file string, line int) model.Source {
		return model.Source{Kind: model.SourceConfig, File: file, Line: line}
	}
	return &configs.Config{
		Format: "nginx", File: main, Files: []string{main, inc},
		Values: []configs.Value{
			{Key: "keepalive_timeout", Value: "65s", Block: "http", Location: model.Location{File: main, Line: 12}},
			{Key: "keepalive", Value: "32", Block: "upstream app", Location: model.Location{File: inc, Line: 3}},
		},
		Downstream: &model.Side{IdleTimeout: model.KnownSetting(65*time.Second, src(main, 12))},
		Upstream: &model.Side{Pools: model.KnownSetting(true, src(inc, 3)),
			IdleTimeout: model.KnownSetting(60*time.Second, model.Source{Kind: model.SourceRuntimeDefault, Detail: "nginx upstream keepalive_timeout default"})},
		// A default server that only closes, and the site's own server block with a shorter
		// keep-alive than the http block's.
		Listeners: []configs.Listener{
			{Kind: "server", Name: "server *:80 (default_server)", Addresses: []string{"*:80"}, Location: model.Location{File: main, Line: 20},
				NotServing: "every request gets return 444", Downstream: &model.Side{IdleTimeout: model.KnownSetting(65*time.Second, src(main, 12))}},
			{Kind: "server", Name: "server *:80 api.example.com", Names: []string{"api.example.com"}, Addresses: []string{"*:80"},
				Location:   model.Location{File: inc, Line: 8},
				Downstream: &model.Side{IdleTimeout: model.KnownSetting(5*time.Second, src(inc, 10))},
				Upstream:   &model.Side{Pools: model.KnownSetting(true, src(inc, 3))}},
		},
	}
}

// dbChain is a second chain file for lint: a silent-drop layer-4 balancer, a client whose side
// nothing is known about, values keeptune could not learn, and a hop name longer than the name
// column.
func dbChain() *model.Chain {
	const file = "deploy/db-chain.yaml"
	src := func(line int) model.Source { return model.Source{Kind: model.SourceChainFile, File: file, Line: line} }
	okhttp := runtimeDefault("OkHttp 4")
	return &model.Chain{
		File: file,
		Hops: []model.Hop{
			{Name: "browsers", Type: model.HopClient, Declared: model.Location{File: file, Line: 2, Column: 5}, Upstream: &model.Side{}},
			{
				Name: "workers", Type: model.HopClient, Runtime: "okhttp", Declared: model.Location{File: file, Line: 3, Column: 5},
				Upstream: &model.Side{
					IdleTimeout: model.KnownSetting(5*time.Minute, okhttp),
					Pools:       model.KnownSetting(true, okhttp),
					TCP:         model.KeepaliveSettings{Enabled: model.KnownSetting(false, okhttp)},
				},
			},
			{
				Name: "ilb", Type: model.HopMiddlebox, Catalog: "azure-lb", Declared: model.Location{File: file, Line: 4, Column: 5},
				Middlebox: &model.Middlebox{
					IdleTimeout: model.KnownSetting(4*time.Minute, catalogSource("azure-lb")),
					Layer:       model.KnownSetting(4, catalogSource("azure-lb")),
					RefreshedBy: model.KnownSetting(model.RefreshAnySegment, catalogSource("azure-lb")),
					OnExpiry:    model.KnownSetting(model.ExpirySilent, catalogSource("azure-lb")),
				},
			},
			{
				Name: "pgbouncer-primary-pool", Type: model.HopProxy, Runtime: "pgbouncer", Local: true, Config: "/etc/pgbouncer/pgbouncer.ini",
				Declared: model.Location{File: file, Line: 5, Column: 5},
				Downstream: &model.Side{
					Pools: model.KnownSetting(true, src(5)),
					TCP:   model.KeepaliveSettings{Enabled: model.KnownSetting(true, src(6))},
				},
				Upstream: &model.Side{
					Pools:       model.KnownSetting(false, src(7)),
					TCP:         model.KeepaliveSettings{Enabled: model.KnownSetting(true, src(6)), Idle: model.KnownSetting(time.Minute, src(8))},
					ReadTimeout: model.KnownSetting(time.Duration(0), src(9)),
				},
			},
			{Name: "db", Type: model.HopServer, Runtime: "postgres", Declared: model.Location{File: file, Line: 10, Column: 5}},
		},
	}
}

// lintChainsReport lints two chain files: findings are drawn in the chain that has their hops.
func lintChainsReport() Report {
	findings := append(chainFindings(), model.Finding{
		Rule: "KT708", Severity: model.SeverityError, Subject: "workers -> pgbouncer-primary-pool",
		Hops: []string{"workers", "ilb", "pgbouncer-primary-pool"},
		Message: "ilb (azure-lb) drops flows idle for 4m without telling anyone, and neither workers nor pgbouncer-primary-pool sends keepalive probes: " +
			"an idle connection through it hangs instead of failing.",
		Evidence: []model.Evidence{{Name: "ilb idle timeout", Value: "4m", Source: catalogSource("azure-lb")}},
		Location: &model.Location{File: "deploy/db-chain.yaml", Line: 4, Column: 5},
		Fix:      &model.Fix{Key: "workers.upstream.idle_timeout", Current: "5m", Proposed: "3m", Line: "ConnectionPool(5, 180, TimeUnit.SECONDS) (OkHttp)"},
	}, model.Finding{
		Rule: "KT702", Severity: model.SeverityWarning, Subject: "cache -> redis", Hops: []string{"cache", "redis"},
		Message: "A finding about hops no chain of this run has: listed, not drawn.",
	})
	return Report{Tool: testTool(), Command: "lint", Chains: []*model.Chain{testChain(), dbChain()}, Findings: findings, Rules: testRules()}
}

// busyReport has more processes than the text output lists without Verbose.
func busyReport() Report {
	r := Report{Tool: testTool(), Command: "audit", Snapshot: &model.Snapshot{
		Host:       model.HostInfo{Hostname: "node-7", Kernel: "6.1.0", Root: "/", Euid: 0},
		Namespaces: []model.Namespace{{Inode: 4026531840, Name: "host", Current: true, Keepalive: hostKeepalive()}},
	}}
	for i := range 25 {
		r.Snapshot.Processes = append(r.Snapshot.Processes, model.Process{
			PID: 1000 + i, Comm: fmt.Sprintf("worker-%02d", i), NetnsInode: 4026531840, TCPSockets: i,
			Listening:  []string{fmt.Sprintf("0.0.0.0:%d", 9000+i)},
			NofileSoft: model.KnownSetting(int64(65536), live), NofileHard: model.KnownSetting(int64(65536), live),
		})
	}
	// Audit says of each configuration it found whether a server runs it.
	running, idle := nginxConfig(), nginxConfig()
	running.Origin = "running, pid 1003 (nginx)"
	idle.File, idle.Files = "/etc/nginx/old/nginx.conf", []string{"/etc/nginx/old/nginx.conf"}
	idle.Origin = "found at its default path, not running"
	r.Configs = []*configs.Config{running, idle}
	return r
}

// exampleReport is the short audit shown in docs/json.md: one namespace, one process, one
// finding that names the file line to replace.
func exampleReport() Report {
	r := testReport()
	s := r.Snapshot
	host := s.Namespaces[0]
	host.Sysctls = host.Sysctls[:4] // the keepalive triple and tcp_retries2
	s.Namespaces = []model.Namespace{host}
	s.Global = s.Global[1:2]
	s.SysctlFiles = []string{"/etc/sysctl.d/99-tune.conf"}
	s.Conflicts = nil
	s.Processes = s.Processes[1:2]
	s.Problems = s.Problems[:1]
	r.Findings = slices.DeleteFunc(r.Findings, func(f model.Finding) bool { return f.Rule != "KT201" })
	r.Chains = nil
	return r
}
