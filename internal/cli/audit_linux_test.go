package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/keeptune/keeptune/internal/sockets"
	"github.com/keeptune/keeptune/internal/testutil"
)

// TestAuditAllNetnsReportsARealNamespace sets values inside a fresh network namespace and
// checks that `keeptune audit --all-netns` reports them with the right sources and findings,
// on the real kernel.
func TestAuditAllNetnsReportsARealNamespace(t *testing.T) {
	testutil.RequireRoot(t, "creates a network namespace and enters it with setns")
	_, name := testutil.PinnedNetns(t, func() error {
		// Inside the new namespace: a tuned idle time, the rest left at kernel defaults, and a
		// tcp_retries2 of 5.
		if err := os.WriteFile("/proc/sys/net/ipv4/tcp_keepalive_time", []byte("1500"), 0); err != nil {
			return err
		}
		return os.WriteFile("/proc/sys/net/ipv4/tcp_retries2", []byte("5"), 0)
	})
	_, untouchedName := testutil.PinnedNetns(t, func() error { return nil })

	out, stderr, code := run(t, "audit", "--all-netns", "-o", "json", "--fail-on", "none")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var doc struct {
		Findings []struct {
			Rule, Namespace, Message string
		} `json:"findings"`
		Facts struct {
			Namespaces []struct {
				Name    string `json:"name"`
				Sysctls []struct {
					Key, Value string
					Source     struct{ Kind string } `json:"source"`
				} `json:"sysctls"`
			} `json:"namespaces"`
		} `json:"facts"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	values := map[string]string{}
	for _, ns := range doc.Facts.Namespaces {
		if ns.Name != name {
			continue
		}
		for _, s := range ns.Sysctls {
			values[s.Key] = s.Value + " " + s.Source.Kind
		}
	}
	want := map[string]string{
		"net.ipv4.tcp_keepalive_time":  "1500 runtime",
		"net.ipv4.tcp_keepalive_intvl": "75 kernel-default",
		"net.ipv4.tcp_retries2":        "5 runtime",
	}
	for k, v := range want {
		if values[k] != v {
			t.Errorf("namespace %s: %s = %q, want %q (all: %v)", name, k, values[k], v, values)
		}
	}
	// 1500 + 75*9 = 2175 s is beyond the general profile's 36 min: KT101 for the tuned
	// namespace, KT501 (the cause) for the untouched one, and no KT201 where tcp_retries2 is 5.
	got := map[string]bool{}
	for _, f := range doc.Findings {
		got[f.Rule+" "+f.Namespace] = true
		if f.Rule == "KT101" && f.Namespace == name && !strings.Contains(f.Message, "36m15s") {
			t.Errorf("KT101 message lacks the detection time 36m15s: %s", f.Message)
		}
	}
	for _, w := range []string{"KT101 " + name, "KT501 " + untouchedName} {
		if !got[w] {
			t.Errorf("missing finding %s (got %v)", w, got)
		}
	}
	if got["KT201 "+name] || got["KT501 "+name] || got["KT101 "+untouchedName] {
		t.Errorf("unexpected findings: %v", got)
	}
}

// closeWaitHelperEnv makes the test binary, started by TestAuditAllNetnsFindsCloseWaitInAnotherNamespace
// in a network namespace of its own, hold CLOSE_WAIT sockets until its stdin closes.
const closeWaitHelperEnv = "KEEPTUNE_TEST_CLOSE_WAIT_HELPER"

// TestHelperHoldCloseWait is the child of TestAuditAllNetnsFindsCloseWaitInAnotherNamespace, not a
// test of its own: it brings loopback up in its fresh namespace, connects to itself 5 times,
// half-closes the dialing ends, keepalive off (so the accepted ends enter CLOSE_WAIT and nobody is orphaned),
// prints "ready" and holds everything until stdin closes.
func TestHelperHoldCloseWait(t *testing.T) {
	if os.Getenv(closeWaitHelperEnv) == "" {
		t.Skip("helper process for TestAuditAllNetnsFindsCloseWaitInAnotherNamespace")
	}
	lo, err := netlink.LinkByName("lo")
	if err != nil {
		t.Fatal(err)
	}
	if err := netlink.LinkSetUp(lo); err != nil {
		t.Fatal(err)
	}
	// Keepalive off: its probes would be acknowledged and keep the CLOSE_WAIT sockets young.
	ln, err := (&net.ListenConfig{KeepAlive: -1}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var held []net.Conn
	for i := 0; i < 5; i++ {
		c, err := (&net.Dialer{KeepAlive: -1}).Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		a, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		if err := c.(*net.TCPConn).CloseWrite(); err != nil {
			t.Fatal(err)
		}
		held = append(held, c, a)
	}
	fmt.Println("ready")
	io.Copy(io.Discard, os.Stdin)
	for _, c := range held {
		c.Close()
	}
}

// TestAuditAllNetnsFindsCloseWaitInAnotherNamespace: a process in a fresh network namespace holds
// 5 CLOSE_WAIT sockets for longer than KT602's 60 s; `keeptune audit --all-netns -o json` must
// report them with the namespace named. The sockets are made first and the test then waits in
// parallel with the package's other tests.
func TestAuditAllNetnsFindsCloseWaitInAnotherNamespace(t *testing.T) {
	testutil.RequireRoot(t, "starts a process in a new network namespace and reads its sockets with setns")
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperHoldCloseWait$", "-test.count=1")
	cmd.Env = append(os.Environ(), closeWaitHelperEnv+"=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: unix.CLONE_NEWNET, Pdeathsig: syscall.SIGKILL}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		if err := cmd.Wait(); err != nil {
			t.Errorf("helper: %v", err)
		}
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "ready" {
		t.Fatalf("helper said %q (%v)", line, err)
	}
	closed := time.Now()
	var st unix.Stat_t
	if err := unix.Stat(fmt.Sprintf("/proc/%d/ns/net", cmd.Process.Pid), &st); err != nil {
		t.Fatal(err)
	}
	nsInode := st.Ino

	t.Parallel() // the wait below overlaps the package's other tests
	time.Sleep(time.Until(closed.Add(sockets.DefaultThresholds.CloseWait + 2*time.Second)))

	out, stderr, code := run(t, "audit", "--all-netns", "--no-configs", "-o", "json", "--fail-on", "none")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var doc struct {
		Findings []struct {
			Rule, Namespace, Subject, Message string
		} `json:"findings"`
		Facts struct {
			Namespaces []struct {
				Name  string `json:"name"`
				Inode uint64 `json:"inode"`
			} `json:"namespaces"`
		} `json:"facts"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	name := ""
	for _, ns := range doc.Facts.Namespaces {
		if ns.Inode == nsInode {
			name = ns.Name
		}
	}
	if name == "" {
		t.Fatalf("the helper's namespace net:[%d] is not among the audited namespaces %+v", nsInode, doc.Facts.Namespaces)
	}
	pid := fmt.Sprintf("(pid %d)", cmd.Process.Pid)
	for _, f := range doc.Findings {
		if f.Rule != "KT602" || !strings.Contains(f.Subject, pid) {
			continue
		}
		if f.Namespace != name || !strings.Contains(f.Message, "5 connections") || !strings.Contains(f.Message, "network namespace "+name) {
			t.Errorf("KT602 for the helper: namespace %q, message %q; want namespace %q and 5 connections", f.Namespace, f.Message, name)
		}
		return
	}
	t.Errorf("no KT602 finding for the helper %s in namespace %s; findings: %+v", pid, name, doc.Findings)
}
