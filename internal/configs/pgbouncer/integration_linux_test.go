package pgbouncer

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/keeptune/keeptune/internal/configs"
	"github.com/keeptune/keeptune/internal/testutil"
)

// pgbouncerVersion returns the installed PgBouncer and its version, skipping the test when it is
// missing or is not the version the parameter lists are for.
func pgbouncerVersion(t *testing.T) (string, string) {
	t.Helper()
	bin, err := exec.LookPath("pgbouncer")
	if err != nil {
		t.Skip("pgbouncer is not installed (Debian: pgbouncer)")
	}
	testutil.RequireRoot(t, "runs pgbouncer as nobody with runuser")
	out, _ := exec.Command(bin, "--version").CombinedOutput()
	v := regexp.MustCompile(`PgBouncer (\d+\.\d+\.\d+)`).FindStringSubmatch(string(out))
	if v == nil || !strings.HasPrefix(v[1], paramsVersion+".") {
		t.Skipf("the parameter lists are PgBouncer %s's; this is %q", paramsVersion, strings.TrimSpace(string(out)))
	}
	return bin, v[1]
}

// runPgbouncer starts PgBouncer on conf (Unix socket only, in a temporary directory) and
// reports whether it came up, with its log.
func runPgbouncer(t *testing.T, bin, conf string) (bool, string) {
	t.Helper()
	dir := t.TempDir()
	// nobody reads the file and writes its socket and log there (the test's parent is 0700)
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o777); err != nil {
			t.Fatal(err)
		}
	}
	p := filepath.Join(dir, "pgbouncer.ini")
	body := strings.ReplaceAll(conf, "@DIR@", dir)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	logf := filepath.Join(dir, "out")
	out, err := os.Create(logf)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	cmd := exec.Command("runuser", "-u", "nobody", "--", bin, p)
	cmd.Stdout, cmd.Stderr = out, out
	// runuser forks PgBouncer: kill the whole group, or PgBouncer outlives the test.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	kill := func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	defer kill()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		data, _ := os.ReadFile(logf)
		if strings.Contains(string(data), "process up") {
			kill()
			<-done
			return true, string(data)
		}
		select {
		case <-done:
			data, _ := os.ReadFile(logf)
			return false, string(data)
		case <-time.After(50 * time.Millisecond):
		}
	}
	kill()
	<-done
	data, _ := os.ReadFile(logf)
	t.Fatalf("pgbouncer neither came up nor exited in 5 s:\n%s", data)
	return false, ""
}

const pgbouncerSection = "[pgbouncer]\nlisten_addr =\nlisten_port = 6499\nunix_socket_dir = @DIR@\nauth_type = trust\nauth_file = @DIR@/users.txt\nlogfile = @DIR@/pgbouncer.log\n"

// TestPgbouncerAgreesOnConnectionParameters runs the real PgBouncer: every parameter of the
// lists is accepted, and a parameter outside them is refused at the line keeptune names.
func TestPgbouncerAgreesOnConnectionParameters(t *testing.T) {
	bin, version := pgbouncerVersion(t)
	var all []string
	for _, k := range databaseParams {
		v := "1"
		switch k {
		case "pool_mode":
			v = "session"
		case "host":
			v = "127.0.0.1"
		case "connect_query":
			v = "'select 1'"
		case "client_encoding":
			v = "UTF8"
		case "datestyle":
			v = "ISO"
		case "timezone":
			v = "UTC"
		}
		all = append(all, k+"="+v)
	}
	ok, log := runPgbouncer(t, bin, "[databases]\nall = "+strings.Join(all, " ")+"\n[users]\nu1 = pool_mode=session max_user_connections=2\n"+pgbouncerSection)
	if !ok {
		t.Fatalf("PgBouncer %s refuses the parameters keeptune lists:\n%s", version, log)
	}
	for _, tt := range []struct{ name, conf, server string }{
		{"database", "[databases]\np0 = host=127.0.0.1 dbname=p0\np1 = host=127.0.0.1 dbname=p0 pool_size=2 reserve_pool_size=2\n" + pgbouncerSection, "unrecognized connection parameter: reserve_pool_size"},
		{"user", "[databases]\np0 = host=127.0.0.1 dbname=p0\n[users]\nu1 = pool_size=1\n" + pgbouncerSection, "unrecognized user parameter: pool_size"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ok, log := runPgbouncer(t, bin, tt.conf)
			if ok || !strings.Contains(log, tt.server) {
				t.Fatalf("PgBouncer %s: up=%v, want it to refuse with %q:\n%s", version, ok, tt.server, log)
			}
			_, err := Parser{Version: version}.parse(testutil.MapFS(map[string]string{"p.ini": tt.conf}), "p.ini")
			var pe *configs.ParseError
			if !errors.As(err, &pe) || !strings.Contains(pe.Msg, tt.server) {
				t.Fatalf("keeptune: %v, want %q", err, tt.server)
			}
			// PgBouncer names the line: "... in configuration (FILE:LINE)".
			m := regexp.MustCompile(`in configuration \(\S+:(\d+)\)`).FindStringSubmatch(log)
			if m == nil || m[1] != fmt.Sprint(pe.Line) {
				t.Errorf("keeptune names line %d; PgBouncer:\n%s", pe.Line, log)
			}
		})
	}
}
