package haproxy

import (
	"strings"
	"testing"
	"time"

	"github.com/keeptune/keeptune/internal/testutil"
)

// contimeout and its kind are never read as "no timeout": refused from 2.1 on (and when the
// version is unknown), read as the timeout they were by an older server.
func TestRemovedTimeoutsByVersion(t *testing.T) {
	text := "defaults\n\tmode http\n\tcontimeout 5000\n\tclitimeout 30s\nfrontend fe\n\tbind :80\n\tdefault_backend be\nbackend be\n\tserver s 1.2.3.4:80\n"
	for _, v := range []string{"", "2.1", "2.6.12"} {
		_, err := Options{Version: v}.ParseFiles(testutil.MapFS(map[string]string{"h.cfg": text}), "h.cfg")
		if err == nil || !strings.Contains(err.Error(), "/h.cfg:3: the 'contimeout' directive is not supported anymore since HAProxy 2.1 (use timeout connect)") {
			t.Errorf("version %q: %v", v, err)
		}
	}
	c := parseString(t, Options{Version: "2.0.31"}, text)
	if got := c.Proxies[0].Settings.Timeouts["client"]; !got.Known || got.Value != 30*time.Second || got.Source.Line != 4 {
		t.Errorf("clitimeout on 2.0: %+v", got)
	}
	if got := c.Proxies[0].Settings.Timeouts["connect"]; !got.Known || got.Value != 5*time.Second {
		t.Errorf("contimeout on 2.0: %+v", got)
	}
}

// A keyword HAProxy 2.6 does not know is an error on a server known to be 2.6 or older, a
// warning when the version is unknown or newer; a near-miss is an error with a did-you-mean.
func TestUnknownKeywordsByVersion(t *testing.T) {
	text := "backend be\n\tmode http\n\tguid be-1\n"
	if c := parseString(t, Options{}, text); len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0].Message, "unknown keyword 'guid'") {
		t.Errorf("unknown version: %+v", c.Warnings)
	}
	if c := parseString(t, Options{Version: "3.0.5"}, text); len(c.Warnings) != 1 {
		t.Errorf("newer version: %+v", c.Warnings)
	}
	if _, err := (Options{Version: "2.6.12"}).ParseFiles(testutil.MapFS(map[string]string{"h.cfg": text}), "h.cfg"); err == nil {
		t.Error("2.6 refuses guid")
	}
	_, err := Options{Version: "3.0"}.ParseFiles(testutil.MapFS(map[string]string{"h.cfg": "backend be\n\tbalnce roundrobin\n"}), "h.cfg")
	if err == nil || !strings.Contains(err.Error(), "did you mean 'balance'?") {
		t.Errorf("near-miss: %v", err)
	}
	// Missing LF: refused from 2.6 on, a warning before.
	if c := parseString(t, Options{Version: "2.4"}, "backend be\n\tmode http"); len(c.Warnings) != 1 {
		t.Errorf("missing LF on 2.4: %+v", c.Warnings)
	}
}

// A bind or server parameter HAProxy 2.6 does not know is an error for a near-miss or a server
// known to be 2.6 or older, and a warning when a later HAProxy may have it (quic-cc-algo came
// in 2.8); parameters that take a variable number of arguments (source) end the check.
func TestBindServerParamsByVersion(t *testing.T) {
	text := "defaults\n\tmode http\n\ttimeout client 5s\n\ttimeout connect 5s\n\ttimeout server 5s\nfrontend fe\n\tbind :443 quic-cc-algo cubic\n\tdefault_backend be\nbackend be\n\tserver s 1.2.3.4:80 source 10.0.0.1 usesrc clientip whatever\n"
	fsys := testutil.MapFS(map[string]string{"h.cfg": text})
	_, err := Options{Version: "2.6.12"}.ParseFiles(fsys, "h.cfg")
	if err == nil || !strings.Contains(err.Error(), "/h.cfg:7: 'bind :443' in section 'frontend': unknown keyword 'quic-cc-algo'") {
		t.Errorf("2.6.12: %v", err)
	}
	for _, v := range []string{"", "2.8"} {
		c, err := Options{Version: v}.ParseFiles(fsys, "h.cfg")
		if err != nil {
			t.Fatalf("%q: %v", v, err)
		}
		if len(c.Warnings) != 1 || c.Warnings[0].Location.Line != 7 || !strings.Contains(c.Warnings[0].Message, "unknown keyword 'quic-cc-algo'") {
			t.Errorf("%q: warnings %+v", v, c.Warnings)
		}
	}
}
