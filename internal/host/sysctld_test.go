package host

import (
	"io/fs"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/keeptune/keeptune/internal/model"
)

func file(s string) *fstest.MapFile    { return &fstest.MapFile{Data: []byte(s), Mode: 0o644} }
func symlink(t string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(t), Mode: fs.ModeSymlink} }

// where renders assignments as "file:line=value" for compact comparison.
func where(as []model.SysctlAssignment) []string {
	var out []string
	for _, a := range as {
		w := a.File + ":" + itoa(a.Line) + "=" + a.Value
		if a.ProcpsOnly {
			w += " (procps)"
		}
		out = append(out, w)
	}
	return out
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	s := ""
	for ; n > 0; n /= 10 {
		s = string(rune('0'+n%10)) + s
	}
	return s
}

func TestLoadSysctlConfigPrecedence(t *testing.T) {
	const key = "net.ipv4.tcp_keepalive_time"
	tests := []struct {
		name      string
		fs        fstest.MapFS
		wantFiles []string
		want      []string // assignments of key, in application order
		problems  int
	}{
		{
			name: "same basename: /etc replaces /usr/lib",
			fs: fstest.MapFS{
				"usr/lib/sysctl.d/50-ka.conf": file("net.ipv4.tcp_keepalive_time = 100\n"),
				"etc/sysctl.d/50-ka.conf":     file("net.ipv4.tcp_keepalive_time = 200\n"),
			},
			wantFiles: []string{"/etc/sysctl.d/50-ka.conf"},
			want:      []string{"/etc/sysctl.d/50-ka.conf:1=200"},
		},
		{
			name: "same basename: /run replaces /usr/lib, /etc replaces /run",
			fs: fstest.MapFS{
				"usr/lib/sysctl.d/50-ka.conf":       file("net.ipv4.tcp_keepalive_time = 100\n"),
				"usr/local/lib/sysctl.d/50-ka.conf": file("net.ipv4.tcp_keepalive_time = 150\n"),
				"run/sysctl.d/50-ka.conf":           file("net.ipv4.tcp_keepalive_time = 200\n"),
			},
			wantFiles: []string{"/run/sysctl.d/50-ka.conf"},
			want:      []string{"/run/sysctl.d/50-ka.conf:1=200"},
		},
		{
			name: "sorted by basename across directories, last wins",
			fs: fstest.MapFS{
				"run/sysctl.d/99-y.conf":           file("net.ipv4.tcp_keepalive_time=300\n"),
				"etc/sysctl.d/60-x.conf":           file("# tuned\nnet.ipv4.tcp_keepalive_time = 200\n"),
				"usr/lib/sysctl.d/50-default.conf": file("net.ipv4.tcp_keepalive_time = 100\n"),
			},
			wantFiles: []string{"/usr/lib/sysctl.d/50-default.conf", "/etc/sysctl.d/60-x.conf", "/run/sysctl.d/99-y.conf"},
			want: []string{
				"/usr/lib/sysctl.d/50-default.conf:1=100",
				"/etc/sysctl.d/60-x.conf:2=200",
				"/run/sysctl.d/99-y.conf:1=300",
			},
		},
		{
			name: "masked by a symlink to /dev/null",
			fs: fstest.MapFS{
				"usr/lib/sysctl.d/50-default.conf": file("net.ipv4.tcp_keepalive_time = 100\n"),
				"etc/sysctl.d/50-default.conf":     symlink("/dev/null"),
				"etc/sysctl.d/70-other.conf":       file("net.ipv4.tcp_fin_timeout = 30\n"),
			},
			wantFiles: []string{"/etc/sysctl.d/70-other.conf"},
			want:      nil,
		},
		{
			name: "masked by an empty file",
			fs: fstest.MapFS{
				"usr/lib/sysctl.d/50-default.conf": file("net.ipv4.tcp_keepalive_time = 100\n"),
				"etc/sysctl.d/50-default.conf":     file(""),
			},
			wantFiles: nil,
			want:      nil,
		},
		{
			name: "Debian 99-sysctl.conf symlink: sysctl.conf in its sysctl.d place, and again last for procps",
			fs: fstest.MapFS{
				"etc/sysctl.conf":                  file("net.ipv4.tcp_keepalive_time = 600\n"),
				"etc/sysctl.d/99-sysctl.conf":      symlink("../sysctl.conf"),
				"usr/lib/sysctl.d/50-pid-max.conf": file("kernel.pid_max = 4194304\n"),
			},
			wantFiles: []string{"/usr/lib/sysctl.d/50-pid-max.conf", "/etc/sysctl.d/99-sysctl.conf", "/etc/sysctl.conf"},
			want:      []string{"/etc/sysctl.d/99-sysctl.conf:1=600", "/etc/sysctl.conf:1=600 (procps)"},
		},
		{
			name: "absolute symlink resolved inside the root",
			fs: fstest.MapFS{
				"etc/sysctl.conf":             file("net.ipv4.tcp_keepalive_time = 600\n"),
				"etc/sysctl.d/99-sysctl.conf": symlink("/etc/sysctl.conf"),
			},
			wantFiles: []string{"/etc/sysctl.d/99-sysctl.conf", "/etc/sysctl.conf"},
			want:      []string{"/etc/sysctl.d/99-sysctl.conf:1=600", "/etc/sysctl.conf:1=600 (procps)"},
		},
		{
			name: "sysctl.conf without a link is applied after every sysctl.d file",
			fs: fstest.MapFS{
				"etc/sysctl.conf":           file("net.ipv4.tcp_keepalive_time = 600\n"),
				"run/sysctl.d/zz-last.conf": file("net.ipv4.tcp_keepalive_time = 900\n"),
			},
			wantFiles: []string{"/run/sysctl.d/zz-last.conf", "/etc/sysctl.conf"},
			want:      []string{"/run/sysctl.d/zz-last.conf:1=900", "/etc/sysctl.conf:1=600 (procps)"},
		},
		{
			name: "merged /usr: /lib/sysctl.d is not read twice",
			fs: fstest.MapFS{
				"lib":                         symlink("usr/lib"),
				"usr/lib/sysctl.d/10-ka.conf": file("net.ipv4.tcp_keepalive_time = 100\n"),
			},
			wantFiles: []string{"/usr/lib/sysctl.d/10-ka.conf"},
			want:      []string{"/usr/lib/sysctl.d/10-ka.conf:1=100"},
		},
		{
			name: "split /usr: /lib/sysctl.d is read after /usr/lib",
			fs: fstest.MapFS{
				"lib/sysctl.d/10-ka.conf":     file("net.ipv4.tcp_keepalive_time = 100\n"),
				"lib/sysctl.d/20-ka.conf":     file("net.ipv4.tcp_keepalive_time = 101\n"),
				"usr/lib/sysctl.d/20-ka.conf": file("net.ipv4.tcp_keepalive_time = 200\n"),
			},
			wantFiles: []string{"/lib/sysctl.d/10-ka.conf", "/usr/lib/sysctl.d/20-ka.conf"},
			want:      []string{"/lib/sysctl.d/10-ka.conf:1=100", "/usr/lib/sysctl.d/20-ka.conf:1=200"},
		},
		{
			name: "only *.conf, no hidden files, no directories",
			fs: fstest.MapFS{
				"etc/sysctl.d/README.sysctl":   file("net.ipv4.tcp_keepalive_time = 1\n"),
				"etc/sysctl.d/.hidden.conf":    file("net.ipv4.tcp_keepalive_time = 2\n"),
				"etc/sysctl.d/x.conf.rpmsave":  file("net.ipv4.tcp_keepalive_time = 3\n"),
				"etc/sysctl.d/dir.conf/a.conf": file("net.ipv4.tcp_keepalive_time = 4\n"),
				"etc/sysctl.d/ok.conf":         file("net.ipv4.tcp_keepalive_time = 5\n"),
			},
			wantFiles: []string{"/etc/sysctl.d/ok.conf"},
			want:      []string{"/etc/sysctl.d/ok.conf:1=5"},
		},
		{
			name: "broken symlink is reported and does not mask",
			fs: fstest.MapFS{
				"etc/sysctl.d/50-x.conf":     symlink("/opt/gone.conf"),
				"usr/lib/sysctl.d/50-x.conf": file("net.ipv4.tcp_keepalive_time = 100\n"),
			},
			wantFiles: []string{"/usr/lib/sysctl.d/50-x.conf"},
			want:      []string{"/usr/lib/sysctl.d/50-x.conf:1=100"},
			problems:  1,
		},
		{
			name: "garbled lines are reported, the rest applies",
			fs: fstest.MapFS{
				"etc/sysctl.d/10-bad.conf": file("this is not an assignment\n= 5\nnet.ipv4.tcp_keepalive_time = 300\n"),
			},
			wantFiles: []string{"/etc/sysctl.d/10-bad.conf"},
			want:      []string{"/etc/sysctl.d/10-bad.conf:3=300"},
			problems:  2,
		},
		{
			name: "glob applies only where no explicit line sets the key",
			fs: fstest.MapFS{
				"etc/sysctl.d/10-glob.conf": file("net.ipv4.tcp_keepalive_* = 50\n"),
				"etc/sysctl.d/05-exp.conf":  file("net.ipv4.tcp_keepalive_time = 600\n"),
			},
			wantFiles: []string{"/etc/sysctl.d/05-exp.conf", "/etc/sysctl.d/10-glob.conf"},
			want:      []string{"/etc/sysctl.d/05-exp.conf:1=600"},
		},
		{
			name: "glob alone sets the key",
			fs: fstest.MapFS{
				"etc/sysctl.d/10-glob.conf": file("net.ipv4.tcp_keepalive_* = 50\nnet.*.tcp_keepalive_t?me = 60\n"),
			},
			wantFiles: []string{"/etc/sysctl.d/10-glob.conf"},
			want:      []string{"/etc/sysctl.d/10-glob.conf:1=50", "/etc/sysctl.d/10-glob.conf:2=60"},
		},
		{
			name: "negative match keeps the glob away",
			fs: fstest.MapFS{
				"etc/sysctl.d/10-glob.conf": file("net.ipv4.tcp_keepalive_* = 50\n-net.ipv4.tcp_keepalive_time\n"),
			},
			wantFiles: []string{"/etc/sysctl.d/10-glob.conf"},
			want:      nil,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := loadSysctlConfig(tt.fs)
			if !reflect.DeepEqual(cfg.Files, tt.wantFiles) {
				t.Errorf("files = %q, want %q", cfg.Files, tt.wantFiles)
			}
			if got := where(cfg.assignments(key)); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("assignments(%s) = %q, want %q", key, got, tt.want)
			}
			if len(cfg.Problems) != tt.problems {
				t.Errorf("problems = %+v, want %d", cfg.Problems, tt.problems)
			}
		})
	}
}

func TestGarbledLineProblem(t *testing.T) {
	_, probs := parseSysctlConf("/etc/sysctl.d/10-bad.conf", []byte("\n\nfoo bar\n"))
	if len(probs) != 1 {
		t.Fatalf("problems = %+v, want 1", probs)
	}
	got := probs[0].What + ": " + probs[0].Err
	if got != `/etc/sysctl.d/10-bad.conf:3: expected 'key = value', found "foo bar"` {
		t.Errorf("problem = %q", got)
	}
	if l := probs[0].Location; l == nil || *l != (model.Location{File: "/etc/sysctl.d/10-bad.conf", Line: 3}) {
		t.Errorf("location = %+v", l)
	}
}

func TestParseSysctlConfLines(t *testing.T) {
	in := strings.Join([]string{
		"# comment",
		"; also a comment",
		"   ",
		"net/ipv4/tcp_keepalive_time = 600",
		"-net.ipv4.tcp_keepalive_intvl=30",
		"  net.ipv4.tcp_rmem =  4096 \t 131072   6291456  ",
		"net/ipv4/conf/eth0.100/rp_filter = 2",
		"-net.ipv4.conf.all.rp_filter",
		"net.ipv4.conf.*.rp_filter = 1",
		"kernel.domainname = example.com # not a comment",
		"empty.value =",
		"/net//ipv4/./tcp_fin_timeout = 30\r",
	}, "\n")
	got, probs := parseSysctlConf("f", []byte(in))
	if len(probs) != 0 {
		t.Fatalf("problems: %+v", probs)
	}
	want := []confLine{
		{Key: "net.ipv4.tcp_keepalive_time", Value: "600", Line: 4, Text: "net/ipv4/tcp_keepalive_time = 600"},
		{Key: "net.ipv4.tcp_keepalive_intvl", Value: "30", Line: 5, Text: "-net.ipv4.tcp_keepalive_intvl=30", IgnoreErrors: true},
		{Key: "net.ipv4.tcp_rmem", Value: "4096 131072 6291456", Line: 6, Text: "net.ipv4.tcp_rmem =  4096 \t 131072   6291456"},
		{Key: "net.ipv4.conf.eth0/100.rp_filter", Value: "2", Line: 7, Text: "net/ipv4/conf/eth0.100/rp_filter = 2"},
		{Key: "net.ipv4.conf.all.rp_filter", Line: 8, Text: "-net.ipv4.conf.all.rp_filter", Exclude: true},
		{Key: "net.ipv4.conf.*.rp_filter", Value: "1", Line: 9, Text: "net.ipv4.conf.*.rp_filter = 1"},
		{Key: "kernel.domainname", Value: "example.com # not a comment", Line: 10, Text: "kernel.domainname = example.com # not a comment"},
		{Key: "empty.value", Value: "", Line: 11, Text: "empty.value ="},
		{Key: "net.ipv4.tcp_fin_timeout", Value: "30", Line: 12, Text: "/net//ipv4/./tcp_fin_timeout = 30"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got\n%+v\nwant\n%+v", got, want)
	}
}

func TestNormalizeKey(t *testing.T) {
	for in, want := range map[string]string{
		"net.ipv4.tcp_keepalive_time":      "net.ipv4.tcp_keepalive_time",
		"net/ipv4/tcp_keepalive_time":      "net.ipv4.tcp_keepalive_time",
		"/net/ipv4/tcp_keepalive_time":     "net.ipv4.tcp_keepalive_time",
		"net.ipv4.conf.eth0/100.rp_filter": "net.ipv4.conf.eth0/100.rp_filter",
		"net/ipv4/conf/eth0.100/rp_filter": "net.ipv4.conf.eth0/100.rp_filter",
		"net..core.somaxconn.":             "net.core.somaxconn",
		"fs.file-max":                      "fs.file-max",
		"":                                 "",
		"./":                               "",
	} {
		if got := normalizeKey(in); got != want {
			t.Errorf("normalizeKey(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestGlobMatch(t *testing.T) {
	for _, tt := range []struct {
		pattern, key string
		want         bool
	}{
		{"net.ipv4.tcp_keepalive_*", "net.ipv4.tcp_keepalive_time", true},
		{"net.*.tcp_keepalive_time", "net.ipv4.tcp_keepalive_time", true},
		{"net.*", "net.ipv4.tcp_keepalive_time", false}, // '*' stays within a component
		{"net.ipv4.tcp_keepalive_t?me", "net.ipv4.tcp_keepalive_time", true},
		{"net.ipv4.tcp_keepalive_[it]*", "net.ipv4.tcp_keepalive_intvl", true},
		{"net.ipv4.tcp_keepalive_[", "net.ipv4.tcp_keepalive_time", false}, // bad pattern
	} {
		if got := globMatch(tt.pattern, tt.key); got != tt.want {
			t.Errorf("globMatch(%q, %q) = %v, want %v", tt.pattern, tt.key, got, tt.want)
		}
	}
}

func TestSysctlConflicts(t *testing.T) {
	cfg := loadSysctlConfig(fstest.MapFS{
		"usr/lib/sysctl.d/50-default.conf": file("net.ipv4.tcp_keepalive_time = 7200\nnet.core.somaxconn = 4096\nfs.file-max = 100\n"),
		"etc/sysctl.d/60-tune.conf":        file("net.ipv4.tcp_keepalive_time = 600\nnet.core.somaxconn = 4096\nfs.file-max = 0100\n"),
		"etc/sysctl.d/70-glob.conf":        file("net.ipv4.tcp_keepalive_* = 5\nnet.ipv4.tcp_fin_timeout = 30\n"),
		"etc/sysctl.d/80-glob.conf":        file("net.ipv4.tcp_keepalive_* = 6\n"),
	})
	got := cfg.conflicts([]string{"net.ipv4.tcp_keepalive_probes", "net.ipv4.tcp_fin_timeout"})
	var keys []string
	for _, c := range got {
		keys = append(keys, c.Key)
	}
	// somaxconn: same value twice; file-max: 100 == 0100 as numbers; fin_timeout: set once.
	want := []string{"net.ipv4.tcp_keepalive_probes", "net.ipv4.tcp_keepalive_time"}
	if !reflect.DeepEqual(keys, want) {
		t.Fatalf("conflict keys = %q, want %q", keys, want)
	}
	if w := where(got[1].Assignments); !reflect.DeepEqual(w, []string{
		"/usr/lib/sysctl.d/50-default.conf:1=7200", "/etc/sysctl.d/60-tune.conf:1=600",
	}) {
		t.Errorf("keepalive_time conflict = %q", w)
	}
}

func TestGlobReassignedMovesToEnd(t *testing.T) {
	// systemd keeps glob options in insertion order; setting a pattern again to another value
	// moves it behind later patterns, so it wins. Its earlier line is kept with it (history).
	cfg := loadSysctlConfig(fstest.MapFS{
		"etc/sysctl.d/10.conf": file("net.ipv4.tcp_keepalive_* = 1\n"),
		"etc/sysctl.d/20.conf": file("net.ipv4.*_time = 2\n"),
		"etc/sysctl.d/30.conf": file("net.ipv4.tcp_keepalive_* = 3\n"),
	})
	got := where(cfg.assignments("net.ipv4.tcp_keepalive_time"))
	want := []string{"/etc/sysctl.d/20.conf:1=2", "/etc/sysctl.d/10.conf:1=1", "/etc/sysctl.d/30.conf:1=3"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestResolveIn(t *testing.T) {
	fsys := fstest.MapFS{
		"etc/sysctl.conf":   file("x"),
		"etc/a":             symlink("b"),
		"etc/b":             symlink("../etc/./sysctl.conf"),
		"loop1":             symlink("loop2"),
		"loop2":             symlink("loop1"),
		"up":                symlink("../../../etc/sysctl.conf"),
		"etc/sysctl.d/null": symlink("/dev/null"),
	}
	for _, tt := range []struct {
		in, want string
		err      bool
	}{
		{"etc/a", "etc/sysctl.conf", false},
		{"up", "etc/sysctl.conf", false},
		{"etc/sysctl.d/null", "dev/null", true},
		{"loop1", "", true},
	} {
		got, err := resolveIn(fsys, tt.in)
		if got != tt.want || (err != nil) != tt.err {
			t.Errorf("resolveIn(%q) = %q, %v; want %q, err %v", tt.in, got, err, tt.want, tt.err)
		}
	}
}

func FuzzParseSysctlConf(f *testing.F) {
	for _, s := range []string{
		"net.ipv4.tcp_keepalive_time = 600\n",
		"# c\n; c\n-net/ipv4/x=1\n-net.ipv4.y\nfoo\n=\n",
		"net.ipv4.conf.*.rp_filter = 2\n",
		"a.b = c  d\te\r\n",
		"/./..//=//",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		lines, probs := parseSysctlConf("fuzz.conf", data)
		last := 0
		for _, l := range lines {
			if l.Key == "" {
				t.Fatalf("empty key in %+v", l)
			}
			if l.Line <= last {
				t.Fatalf("line numbers not increasing: %d after %d", l.Line, last)
			}
			last = l.Line
			if l.Exclude && (l.Value != "" || l.IgnoreErrors) {
				t.Fatalf("negative match with a value: %+v", l)
			}
			// Separators in dotted form are single dots between non-empty components.
			if strings.HasPrefix(l.Key, ".") || strings.HasSuffix(l.Key, ".") || strings.Contains(l.Key, "..") {
				t.Fatalf("key %q has an empty component", l.Key)
			}
			// Dotted keys without a '/' (every real key whose components have no dots) are
			// stable; with one the form is ambiguous, as it is for systemd.
			if !strings.Contains(l.Key, "/") && normalizeKey(l.Key) != l.Key {
				t.Fatalf("key %q not stable under normalizeKey", l.Key)
			}
			_ = globMatch(l.Key, "net.ipv4.tcp_keepalive_time")
		}
		for _, p := range probs {
			if p.What == "" || p.Err == "" {
				t.Fatalf("empty problem %+v", p)
			}
		}
	})
}

// TestSysctlSourceBothAppliers: a live value is from a file when either systemd-sysctl (boot) or
// procps `sysctl --system` (which applies /etc/sysctl.conf last) would have set it.
func TestSysctlSourceBothAppliers(t *testing.T) {
	as := []model.SysctlAssignment{
		{File: "/etc/sysctl.d/10-a.conf", Line: 1, Value: "600"},
		{File: "/etc/sysctl.d/99-sysctl.conf", Line: 3, Value: "3600"},
		{File: "/etc/sysctl.d/99-zz-keeptune.conf", Line: 2, Value: "80"},
		{File: "/etc/sysctl.conf", Line: 3, Value: "3600", ProcpsOnly: true},
	}
	for _, tt := range []struct {
		live     string
		kind     model.SourceKind
		file     string
		inDetail string
	}{
		{"3600", model.SourceSysctlFile, "/etc/sysctl.conf", ""},
		{"80", model.SourceSysctlFile, "/etc/sysctl.d/99-zz-keeptune.conf", "sysctl --system would apply /etc/sysctl.conf:3 = 3600 last"},
		{"600", model.SourceRuntime, "", "differs from /etc/sysctl.conf:3"},
	} {
		s := model.Sysctl{Key: model.KeyKeepaliveTime, Value: tt.live, Readable: true, Default: "7200", Assignments: as}
		got := sysctlSource(s, true)
		if got.Kind != tt.kind || got.File != tt.file || !strings.Contains(got.Detail, tt.inDetail) {
			t.Errorf("live %s: source %+v, want %s %s with %q", tt.live, got, tt.kind, tt.file, tt.inDetail)
		}
	}
}
