package gather

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/keeptune/keeptune/internal/model"
	"github.com/keeptune/keeptune/internal/sockets"
)

type collect struct {
	listeners, sockets []string
}

func (c *collect) Socket(s *sockets.Socket) error {
	c.sockets = append(c.sockets, s.State.String()+" "+s.Local.String())
	return nil
}

type collectListeners struct{ collect }

func (c *collectListeners) Listener(s *sockets.Socket) {
	c.listeners = append(c.listeners, s.Local.String())
}

func query() SocketsQuery {
	return SocketsQuery{IdleThreshold: model.DefaultSocketThresholds.Idle, CloseWaitThreshold: model.DefaultSocketThresholds.CloseWait}
}

// Sockets reads this namespace's table with the kernel's port filter, hands listeners first to a
// sink that wants them, and finds the process holding each socket.
func TestSocketsLive(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	q := query()
	q.Ports = []string{port}
	q.Sort = "state"
	sink := &collectListeners{}
	stats, err := Sockets(context.Background(), q, sink)
	if errors.Is(err, sockets.ErrUnsupported) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(sink.listeners, " "), ln.Addr().String()) {
		t.Errorf("listeners = %v, want %s among them", sink.listeners, ln.Addr())
	}
	// ESTABLISHED sorts before LISTEN in the kernel's state order; both ends of the connection
	// match the port.
	got := strings.Join(sink.sockets, "; ")
	if len(sink.sockets) != 3 || !strings.HasPrefix(got, "ESTABLISHED") || !strings.HasSuffix(got, "LISTEN "+ln.Addr().String()) {
		t.Errorf("sockets = %q, want two ESTABLISHED then the LISTEN socket", got)
	}
	if stats.Matched != 3 {
		t.Errorf("stats.Matched = %d, want 3", stats.Matched)
	}
}

func TestSocketsQueryCheck(t *testing.T) {
	for _, c := range []struct {
		edit func(*SocketsQuery)
		want string
	}{
		{func(q *SocketsQuery) { q.States = "open" }, "invalid --state"},
		{func(q *SocketsQuery) { q.Ports = []string{"no-such-service-x"} }, "TCP service name"},
		{func(q *SocketsQuery) { q.Sort = "size" }, `invalid --sort "size"`},
		{func(q *SocketsQuery) { q.IdleThreshold = 0 }, "invalid --idle-threshold"},
		{func(q *SocketsQuery) { q.NoInfo, q.Idle = true, ">1s" }, "need tcp_info"},
		{func(q *SocketsQuery) { q.NoProcesses, q.PIDs = true, []int{1} }, "need the owning processes"},
	} {
		q := query()
		c.edit(&q)
		err := q.Check()
		if err == nil || !errors.Is(err, ErrInput) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: Check() = %v, want ErrInput and %q", q, err, c.want)
		}
		if _, err := Sockets(context.Background(), q, &collect{}); !errors.Is(err, ErrInput) {
			t.Errorf("%+v: Sockets error %v, want ErrInput", q, err)
		}
	}
	if err := query().Check(); err != nil {
		t.Errorf("the default query: %v", err)
	}
}

// TestSortSocketsByState orders one state's sockets by local address as numbers, not as text
// (where 10.0.0.10 sorts before 10.0.0.2).
func TestSortSocketsByState(t *testing.T) {
	addr := netip.MustParseAddrPort
	all := []sockets.Socket{
		{State: sockets.StateListen, Local: addr("10.0.0.1:80")},
		{State: sockets.StateEstablished, Local: addr("[2001:db8::1]:443")},
		{State: sockets.StateEstablished, Local: addr("10.0.0.10:443")},
		{State: sockets.StateEstablished, Local: addr("10.0.0.2:443")},
	}
	sortSockets(all, "state")
	var got []string
	for _, s := range all {
		got = append(got, s.State.String()+" "+s.Local.String())
	}
	want := []string{"ESTABLISHED 10.0.0.2:443", "ESTABLISHED 10.0.0.10:443", "ESTABLISHED [2001:db8::1]:443", "LISTEN 10.0.0.1:80"}
	if !slices.Equal(got, want) {
		t.Errorf("sorted by state:\n got %q\nwant %q", got, want)
	}
}
