package nginx

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/keeptune/keeptune/internal/configs"
	"github.com/keeptune/keeptune/internal/testutil"
)

// Every server block is a listener with its own downstream side, proven against the real
// server: each serving one closes an idle client after its own keepalive_timeout, asked with
// its own Host; the default server that only returns 444 is marked as not serving, and the
// side a chain hop takes is the site's, not the default server's.
func TestNginxListenersCloseIdleAtTheirOwnTimeout(t *testing.T) {
	bin := nginxBinary(t)
	needRoot(t)
	port, port2 := testutil.FreePort(t), testutil.FreePort(t)
	_, cfg, _ := startNginx(t, bin, "listeners.conf", map[string]string{"__PORT__": strconv.Itoa(port), "__PORT2__": strconv.Itoa(port2)})
	ls := cfg.Listeners()
	if len(ls) != 3 || ls[0].NotServing == "" || ls[1].NotServing != "" || ls[2].NotServing != "" {
		t.Fatalf("listeners %+v", ls)
	}
	if d := cfg.Downstream(); d.IdleTimeout.Value != time.Second {
		t.Errorf("downstream side taken from %+v, want the site's 1s (the default server only closes)", d.IdleTimeout)
	}
	cc := cfg.Configs()
	down, _, err := cc.ChainSides(configs.Selector{})
	if err != nil || down.IdleTimeout.Value != time.Second || down.IdleTimeout.Source.Detail == "" {
		t.Errorf("chain side %+v %v, want the shortest serving listener (1s), named", down, err)
	}
	if _, _, err := cc.ChainSides(configs.Selector{Name: "other.test"}); err != nil {
		t.Error(err)
	}
	for _, l := range ls[1:] {
		host := l.Names[0]
		want := l.Downstream.IdleTimeout.Value
		c, err := net.Dial("tcp", l.Addresses[0])
		if err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(c)
		fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: %s\r\n\r\n", host)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		answered := time.Now()
		c.SetReadDeadline(time.Now().Add(want + 3*time.Second))
		n, err := br.Read(make([]byte, 1))
		closed := time.Since(answered)
		c.Close()
		if n != 0 || err != io.EOF {
			t.Fatalf("%s: expected the server's FIN, got %d bytes, %v", host, n, err)
		}
		t.Logf("%s (%s): parsed keepalive_timeout %v, closed %v after the response", l.Name, l.Location, want, closed.Round(time.Millisecond))
		if closed < want-50*time.Millisecond || closed > want+time.Second {
			t.Errorf("%s: closed after %v, parsed %v", host, closed, want)
		}
	}
}
