package apache

import (
	"testing"
	"time"

	"github.com/keeptune/keeptune/internal/testutil"
)

// Values set through a macro are read where the macro is used, with that line as their source.
func TestMacroExpansion(t *testing.T) {
	conf := "<Macro KA $t $timeout_s>\n  KeepAliveTimeout $t\n  Timeout $timeout_s\n</Macro>\n<VirtualHost *:80>\n  Use KA 7 30\n</VirtualHost>\nUse ka 3 60\n"
	c, err := Parse(testutil.MapFS(map[string]string{"a.conf": conf}), "a.conf")
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Main.KeepAliveTimeout; !got.Known || got.Value != 3*time.Second || got.Source.Line != 8 {
		t.Errorf("main server: %+v", got)
	}
	if len(c.VirtualHosts) != 1 {
		t.Fatalf("virtual hosts %+v", c.VirtualHosts)
	}
	// $timeout_s is replaced as a whole, not as $t followed by "imeout_s".
	if got := c.VirtualHosts[0].Timeout; !got.Known || got.Value != 30*time.Second || got.Source.Line != 6 {
		t.Errorf("virtual host Timeout: %+v", got)
	}
}
