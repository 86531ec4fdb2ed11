package kstats

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The testdata directories are real files: linux-6.18-host copied from /proc/net of a 6.18
// machine, linux-6.18-netns-traffic from a fresh network namespace after a known sequence
// (three keepalive probes answered, a close with unread data, a close with SO_LINGER 0, a
// connect to a closed port).
func TestReadDirCaptured(t *testing.T) {
	tests := []struct {
		dir  string
		want map[string]map[string]int64
		// fields is how many fields the kernel printed in each section.
		fields map[string]int
	}{
		{
			dir: "linux-6.18-netns-traffic",
			want: map[string]map[string]int64{
				"TcpExt": {"TCPKeepAlive": 3, "TCPAbortOnData": 1, "TCPAbortOnClose": 1, "TCPAbortOnTimeout": 0, "TCPAbortOnLinger": 0, "TCPAbortOnMemory": 0, "TCPTimeouts": 0, "TCPPureAcks": 7, "TCPDelivered": 4},
				"Tcp":    {"RtoMin": 200, "RtoMax": 120000, "MaxConn": -1, "ActiveOpens": 4, "PassiveOpens": 3, "AttemptFails": 1, "EstabResets": 4, "CurrEstab": 2, "OutRsts": 3, "RetransSegs": 0},
			},
			// No ICMP was seen, so the kernel printed no IcmpMsg section.
			fields: map[string]int{"TcpExt": 135, "Tcp": 15, "IpExt": 18, "MPTcpExt": 76, "Ip": 20, "Icmp": 29, "IcmpMsg": -1, "Udp": 9, "UdpLite": 9},
		},
		{
			dir: "linux-6.18-host",
			want: map[string]map[string]int64{
				"TcpExt": {"TW": 17, "DelayedACKs": 2, "TCPKeepAlive": 1, "TCPAbortOnData": 1},
				"Tcp":    {"ActiveOpens": 19, "PassiveOpens": 2, "CurrEstab": 0, "InSegs": 1788, "OutRsts": 2, "MaxConn": -1},
				"IpExt":  {"InOctets": 34159670},
			},
			fields: map[string]int{"TcpExt": 135, "Tcp": 15, "IcmpMsg": 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.dir, func(t *testing.T) {
			st, err := ReadDir(filepath.Join("testdata", tt.dir))
			if err != nil {
				t.Fatal(err)
			}
			for sec, fields := range tt.want {
				s := st.Section(sec)
				if s == nil {
					t.Fatalf("section %s missing; have %v", sec, st.Names())
				}
				for f, want := range fields {
					got, ok := s.Int(f)
					if !ok || got != want {
						t.Errorf("%s %s = %d, %v; want %d", sec, f, got, ok, want)
					}
				}
			}
			for sec, n := range tt.fields {
				if n < 0 {
					if st.Section(sec) != nil {
						t.Errorf("section %s present, want it absent", sec)
					}
					continue
				}
				s := st.Section(sec)
				if s == nil {
					t.Errorf("section %s missing", sec)
				} else if len(s.Fields) != n || len(s.Values) != n {
					t.Errorf("section %s: want %d fields, got %d names and %d values", sec, n, len(s.Fields), len(s.Values))
				}
			}
		})
	}
}

// Every field of the captured files is read: the TcpExt fields prometheus/procfs leaves unset
// included, and the fields a newer kernel adds (the TCPAO* ones of 6.7+) without a code change.
func TestEveryFieldKept(t *testing.T) {
	st, err := ReadDir("testdata/linux-6.18-netns-traffic")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile("testdata/linux-6.18-netns-traffic/netstat")
	if err != nil {
		t.Fatal(err)
	}
	header := strings.Fields(strings.Split(string(raw), "\n")[0])[1:]
	for _, f := range header {
		if _, ok := st.TcpExt().Get(f); !ok {
			t.Errorf("TcpExt %s not kept", f)
		}
	}
	for _, f := range []string{"TCPAbortOnLinger", "TCPAbortFailed", "TCPAOGood", "TCPPLBRehash"} {
		if _, ok := st.TcpExt().Get(f); !ok {
			t.Errorf("TcpExt %s missing", f)
		}
	}
	for _, c := range TCPCounters {
		if _, ok := st.Value(c); !ok {
			t.Errorf("counter %s (%s %s) missing from a 6.18 capture", c.Name, c.Section, c.Field)
		}
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		section string
		field   string
		want    int64
		wantErr string
	}{
		{name: "older kernel with fewer fields", in: "TcpExt: SyncookiesSent TCPKeepAlive\nTcpExt: 0 42\n", section: "TcpExt", field: "TCPKeepAlive", want: 42},
		{name: "no final newline", in: "Tcp: ActiveOpens\nTcp: 7", section: "Tcp", field: "ActiveOpens", want: 7},
		{name: "negative MaxConn", in: "Tcp: MaxConn ActiveOpens\nTcp: -1 5\n", section: "Tcp", field: "MaxConn", want: -1},
		{name: "largest unsigned long", in: "TcpExt: TCPKeepAlive\nTcpExt: 18446744073709551615\n", section: "TcpExt", field: "TCPKeepAlive", want: -1},
		{name: "empty file", in: "", section: "Tcp"},
		{name: "header without values", in: "Tcp: ActiveOpens\n", wantErr: "line 1: header of section Tcp has no value line"},
		{name: "count mismatch", in: "Tcp: A B\nTcp: 1\n", wantErr: "line 2: section Tcp has 2 field names but 1 values"},
		{name: "section mismatch", in: "Tcp: A\nUdp: 1\n", wantErr: "line 2: expected the values of section Tcp, found section Udp"},
		{name: "not a number", in: "Tcp: A\nTcp: x\n", wantErr: `line 2: section Tcp field A: expected a number, found "x"`},
		{name: "overflow", in: "Tcp: A\nTcp: 18446744073709551616\n", wantErr: "expected a number"},
		{name: "no colon", in: "garbage\n", wantErr: `line 1: expected "Section: ...", found "garbage"`},
		{name: "duplicate section", in: "Tcp: A\nTcp: 1\nTcp: A\nTcp: 2\n", wantErr: "line 3: section Tcp appears twice"},
		{name: "duplicate field", in: "Tcp: A A\nTcp: 1 2\n", wantErr: "line 1: section Tcp names field A twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, err := Parse([]byte(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.field == "" {
				if len(st.Sections) != 0 {
					t.Fatalf("want no sections, got %v", st.Names())
				}
				return
			}
			got, ok := st.Section(tt.section).Int(tt.field)
			if !ok || got != tt.want {
				t.Fatalf("%s %s = %d, %v; want %d", tt.section, tt.field, got, ok, tt.want)
			}
		})
	}
}

func TestReadDirErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := ReadDir(dir); err == nil {
		t.Fatal("want an error for a directory without netstat")
	}
	// Both files carrying the same section is not what a kernel prints.
	for _, f := range Files {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("Tcp: A\nTcp: 1\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := ReadDir(dir); err == nil || !strings.Contains(err.Error(), "snmp: section Tcp appears twice") {
		t.Fatalf("err = %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "snmp"), []byte("Tcp: A\nTcp: y\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadDir(dir); err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "snmp")+": line 2") {
		t.Fatalf("err = %v, want the file and line", err)
	}
}

func FuzzParse(f *testing.F) {
	for _, dir := range []string{"linux-6.18-host", "linux-6.18-netns-traffic"} {
		for _, name := range Files {
			b, err := os.ReadFile(filepath.Join("testdata", dir, name))
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	f.Add([]byte("Tcp: MaxConn\nTcp: -1\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := Parse(b)
		if err != nil {
			return
		}
		for name, s := range st.Sections {
			if s.Name != name || len(s.Fields) != len(s.Values) {
				t.Fatalf("section %q: name %q, %d fields, %d values", name, s.Name, len(s.Fields), len(s.Values))
			}
			for i, f := range s.Fields {
				if v, ok := s.Get(f); !ok || v != s.Values[i] {
					t.Fatalf("Get(%q) = %d, %v; want %d", f, v, ok, s.Values[i])
				}
			}
		}
	})
}
