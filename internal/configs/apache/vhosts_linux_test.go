package apache_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/keeptune/keeptune/internal/configs/apache"
	"github.com/keeptune/keeptune/internal/testutil"
)

// idleAfter sends one request for host on a new connection to addr and returns how long httpd
// keeps the connection idle after its response.
func idleAfter(t *testing.T, addr, host string, limit time.Duration) time.Duration {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	br := bufio.NewReader(conn)
	fmt.Fprintf(conn, "GET /index.html HTTP/1.1\r\nHost: %s\r\n\r\n", host)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	start := time.Now()
	conn.SetReadDeadline(start.Add(limit))
	if _, err := br.ReadByte(); err == nil {
		t.Fatal("data on an idle connection")
	}
	return time.Since(start)
}

// Each virtual host is a listener with its own client side, proven against httpd: the idle
// close measured with each host's name is the KeepAliveTimeout keeptune reads for it.
func TestApacheVirtualHostsCloseIdleAtTheirOwnTimeout(t *testing.T) {
	bin := apacheBinary(t)
	if testing.Short() {
		t.Skip("starts httpd and waits for its keep-alive timeouts (-short)")
	}
	env := checkEnv(t)
	env["KT_PORT"], env["KT_PORT2"] = strconv.Itoa(testutil.FreePort(t)), strconv.Itoa(testutil.FreePort(t))
	c, err := apache.Options{Env: env}.Parse(os.DirFS("testdata/valid"), "vhosts.conf")
	if err != nil {
		t.Fatal(err)
	}
	ls := c.Configs().Listeners
	if len(ls) != 3 {
		t.Fatalf("listeners %+v", ls)
	}
	startApache(t, bin, "testdata/valid/vhosts.conf", env)
	for _, l := range ls {
		want := l.Downstream.IdleTimeout.Value
		got := idleAfter(t, l.Addresses[0], l.Names[0], want+4*time.Second)
		t.Logf("%s %v (%s): keeptune reads %v, httpd closed after %v", l.Name, l.Names, l.Location, want, got.Round(time.Millisecond))
		if got < want-100*time.Millisecond || got > want+time.Second {
			t.Errorf("%s %v: idle close after %v, keeptune reads %v", l.Name, l.Names, got, want)
		}
	}
}
