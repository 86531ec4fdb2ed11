package report

import (
	"bytes"
	"net/netip"
	"strings"
	"testing"

	"github.com/keeptune/keeptune/internal/sockets"
)

// TestSocketSummaryJSONKeepsNames: the summary's JSON writes a process name with '&' or '<' as
// it is, like every other -o json (json.Encoder escapes them by default).
func TestSocketSummaryJSONKeepsNames(t *testing.T) {
	var out bytes.Buffer
	sum := NewSocketSummary(&out, true)
	sum.Socket(&sockets.Socket{State: sockets.StateEstablished, Local: netip.MustParseAddrPort("127.0.0.1:8080"),
		Peer: netip.MustParseAddrPort("127.0.0.1:40000"), Owner: &sockets.Process{PID: 42, Comm: "a&b<c>"}})
	if err := sum.Flush(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), `"42/a&b<c>"`) {
		t.Errorf("summary JSON lacks the process name as written:\n%s", out.String())
	}
}
