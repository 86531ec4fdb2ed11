package report

import (
	"fmt"
	"strings"

	"github.com/keeptune/keeptune/internal/model"
)

// configs lists the server configuration files read: the format, how many files with their
// includes, and the sides a chain hop would take from each, so a reader sees what keeptune
// understood before reading what it concluded. Verbose mode lists every value read.
func (t *textRenderer) configs(r Report) {
	if len(r.Configs) == 0 {
		return
	}
	t.section(fmt.Sprintf("Configurations (%d)", len(r.Configs)))
	for _, c := range r.Configs {
		if c == nil {
			continue
		}
		head := fmt.Sprintf("  %s  %s", t.st.bold(c.File), c.Format)
		if n := len(c.Files); n > 1 {
			head += fmt.Sprintf(", %d files with its includes", n)
		}
		head += fmt.Sprintf(", %d values", len(c.Values))
		if c.Origin != "" {
			head += "; " + c.Origin
		}
		t.line(head)
		for _, side := range []struct {
			name string
			side *model.Side
		}{{"downstream", c.Downstream}, {"upstream", c.Upstream}} {
			if side.side == nil {
				continue // the format has no such side (redis has no upstream)
			}
			items := sideItems(side.side, side.name == "downstream")
			if len(items) == 0 {
				continue
			}
			lead := fmt.Sprintf("    %-11s ", side.name+":")
			for i, l := range itemLines(items, " · ", lineWidth-len(lead)) {
				if i > 0 {
					lead = strings.Repeat(" ", len(lead))
				}
				t.line(lead + l)
			}
		}
		if t.verbose {
			for _, v := range c.Values {
				t.line(fmt.Sprintf("      %s:%d  %s  %s %s", v.Location.File, v.Location.Line, v.Block, v.Key, v.Value))
			}
		}
	}
}
