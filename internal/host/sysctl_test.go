package host

import (
	"testing"

	"github.com/keeptune/keeptune/internal/model"
)

func TestSysctlSource(t *testing.T) {
	file := func(v string, line int) model.SysctlAssignment {
		return model.SysctlAssignment{File: "/etc/sysctl.d/60-x.conf", Line: line, Value: v}
	}
	for _, tt := range []struct {
		name       string
		s          model.Sysctl
		filesApply bool
		want       model.Source
	}{
		{"file sets the live value", model.Sysctl{Value: "600", Readable: true, Default: "7200",
			Assignments: []model.SysctlAssignment{file("300", 1), file("600", 4)}}, true,
			model.Source{Kind: model.SourceSysctlFile, File: "/etc/sysctl.d/60-x.conf", Line: 4}},
		{"file sets the default value", model.Sysctl{Value: "7200", Readable: true, Default: "7200",
			Assignments: []model.SysctlAssignment{file("7200", 2)}}, true,
			model.Source{Kind: model.SourceSysctlFile, File: "/etc/sysctl.d/60-x.conf", Line: 2}},
		{"file value with other whitespace and leading zero", model.Sysctl{Value: "4096 131072", Readable: true,
			Assignments: []model.SysctlAssignment{file("04096   131072", 2)}}, true,
			model.Source{Kind: model.SourceSysctlFile, File: "/etc/sysctl.d/60-x.conf", Line: 2}},
		{"live is the kernel default, the file was never applied", model.Sysctl{Value: "7200", Readable: true, Default: "7200",
			Assignments: []model.SysctlAssignment{file("600", 3)}}, true,
			model.Source{Kind: model.SourceKernelDefault, Detail: "/etc/sysctl.d/60-x.conf:3 sets 600 but is not in effect: never applied since boot, or reset"}},
		{"live differs from the file and the default", model.Sysctl{Value: "900", Readable: true, Default: "7200",
			Assignments: []model.SysctlAssignment{file("600", 3)}}, true,
			model.Source{Kind: model.SourceRuntime, Detail: "differs from /etc/sysctl.d/60-x.conf:3 which sets 600: changed at run time or the file was never applied"}},
		{"no file, default", model.Sysctl{Value: "75", Readable: true, Default: "75"}, true,
			model.Source{Kind: model.SourceKernelDefault}},
		{"no file, not the default", model.Sysctl{Value: "30", Readable: true, Default: "75"}, true,
			model.Source{Kind: model.SourceRuntime}},
		{"no file, no known default", model.Sysctl{Value: "1024", Readable: true}, true,
			model.Source{Kind: model.SourceLive}},
		{"unreadable", model.Sysctl{Default: "75"}, true, model.Source{}},
		{"other namespace, default", model.Sysctl{Value: "7200", Readable: true, Default: "7200"}, false,
			model.Source{Kind: model.SourceKernelDefault}},
		{"other namespace ignores files", model.Sysctl{Value: "600", Readable: true, Default: "7200",
			Assignments: []model.SysctlAssignment{file("600", 1)}}, false,
			model.Source{Kind: model.SourceRuntime, Detail: "set inside this network namespace; host sysctl files do not reach it"}},
		{"other namespace, no known default", model.Sysctl{Value: "3", Readable: true}, false,
			model.Source{Kind: model.SourceLive}},
	} {
		if got := sysctlSource(tt.s, tt.filesApply); got != tt.want {
			t.Errorf("%s: source = %+v, want %+v", tt.name, got, tt.want)
		}
	}
}

func TestKernelDefaults(t *testing.T) {
	def := func(key, release string) string {
		for _, s := range sysctlSpecs {
			if s.key == key {
				return s.def(parseKernelRelease(release))
			}
		}
		t.Fatalf("no spec for %s", key)
		return ""
	}
	for _, tt := range []struct{ key, release, want string }{
		{model.KeySomaxconn, "5.4.0-150-generic", "4096"},
		{model.KeySomaxconn, "6.18.44-fc-v657", "4096"},
		{model.KeySomaxconn, "4.19.0-25-amd64", "128"},
		{model.KeySomaxconn, "5.3.18", "128"},
		{model.KeySomaxconn, "garbage", ""},
		{model.KeySynRetries, "3.6.11", "5"},
		{model.KeySynRetries, "3.10.0-1160.el7.x86_64", "6"},
		{model.KeyKeepaliveTime, "", "7200"},
		{model.KeyMaxSynBacklog, "6.1.0", ""},
		{model.KeyNrOpen, "6.1.0", "1048576"},
	} {
		if got := def(tt.key, tt.release); got != tt.want {
			t.Errorf("default of %s on %q = %q, want %q", tt.key, tt.release, got, tt.want)
		}
	}
}

func TestParseKernelRelease(t *testing.T) {
	for in, want := range map[string]kernelVersion{
		"6.18.44-fc-v657":        {6, 18, true},
		"5.4.0-150-generic\n":    {5, 4, true},
		"3.10.0-1160.el7.x86_64": {3, 10, true},
		"6.8":                    {6, 8, true},
		"6":                      {},
		"x.y":                    {},
		"":                       {},
	} {
		if got := parseKernelRelease(in); got != want {
			t.Errorf("parseKernelRelease(%q) = %+v, want %+v", in, got, want)
		}
	}
}

func TestParseNofile(t *testing.T) {
	const hdr = "Limit                     Soft Limit           Hard Limit           Units     \n"
	for _, tt := range []struct {
		in         string
		soft, hard int64
		ok         bool
	}{
		{hdr + "Max open files            1024                 524288               files     \n", 1024, 524288, true},
		{hdr + "Max open files            unlimited            unlimited            files     \n", -1, -1, true},
		{hdr + "Max processes             63459                63459                processes \n", 0, 0, false},
		{hdr + "Max open files            1024\n", 0, 0, false},
		{hdr + "Max open files            many                 524288               files\n", 0, 524288, false},
		{"", 0, 0, false},
	} {
		soft, hard, ok := parseNofile([]byte(tt.in))
		if ok != tt.ok || ok && (soft != tt.soft || hard != tt.hard) {
			t.Errorf("parseNofile(%q) = %d, %d, %v; want %d, %d, %v", tt.in, soft, hard, ok, tt.soft, tt.hard, tt.ok)
		}
	}
}

func FuzzParseNofile(f *testing.F) {
	f.Add([]byte("Max open files            1024                 524288               files\n"))
	f.Add([]byte("Max open files unlimited"))
	f.Fuzz(func(t *testing.T, data []byte) {
		soft, hard, ok := parseNofile(data)
		if ok && (soft < -1 || hard < -1) {
			t.Fatalf("negative limits accepted: %d %d", soft, hard)
		}
	})
}
