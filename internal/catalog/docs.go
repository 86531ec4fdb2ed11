package catalog

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/keeptune/keeptune/internal/textfmt"
)

// Markdown renders docs/catalog.md from the data, so the page people read and the values
// keeptune uses cannot drift apart (a test compares them).
func Markdown() []byte {
	var b bytes.Buffer
	all := All()
	verified := 0
	for _, e := range all {
		if e.Verified {
			verified++
		}
	}
	b.WriteString("# keeptune catalog\n\n")
	fmt.Fprintf(&b, "Generated from %s by `go test ./internal/catalog -run TestCatalogDoc -update`; do not edit by hand.\n\n", File)
	b.WriteString("The catalog describes the hops keeptune cannot read from the host: what NAT gateways, load\n")
	b.WriteString("balancers and firewalls do to idle flows, and the keepalive and idle defaults of common servers,\n")
	b.WriteString("proxies and client libraries. A chain file names an entry (`catalog: aws-alb`) and may override\n")
	b.WriteString("any value in place; `keeptune catalog` lists the entries and `keeptune catalog NAME` explains one.\n\n")
	fmt.Fprintf(&b, "%d entries, %d verified. **Verified** (✓) means every value the entry states was checked against\n", len(all), verified)
	b.WriteString("the primary source it cites (vendor documentation, API reference or source code); an entry\n")
	b.WriteString("marked ✗ rests on secondary material. A value the source does not state is not listed and is\n")
	b.WriteString("unknown to keeptune: the catalog never invents a default.\n\n")
	b.WriteString("How to read the values:\n\n")
	b.WriteString("- **layer 4** forwards TCP segments (keepalive probes pass through it and can keep its flows\n")
	b.WriteString("  alive); **layer 7** terminates TCP on both sides, so keepalive is per side and only payload\n")
	b.WriteString("  counts as activity.\n")
	b.WriteString("- **idle timeout** is the default, then the range it can be configured within (`fixed` when it\n")
	b.WriteString("  cannot be changed). For a layer 7 middlebox it applies to client connections; its upstream\n")
	b.WriteString("  side is the pool of connections it keeps to the backends.\n")
	b.WriteString("- **refreshed by**: `any-segment` (keepalive probes reset the idle timer), `payload` (only\n")
	b.WriteString("  data does), `?` unknown.\n")
	b.WriteString("- **on expiry**: `silent-drop` (nobody is told: an idle connection hangs), `rst` (a TCP reset;\n")
	b.WriteString("  the notes say when), `close` (a layer 7 box closes its connection cleanly), `?` unknown.\n")
	b.WriteString("- **downstream** is how a program treats the connections it accepts, **upstream** the ones it\n")
	b.WriteString("  opens. `none` means the program sets no such limit; `OS default` means the host's\n")
	b.WriteString("  `net.ipv4.tcp_keepalive_*` values apply. TCP keepalive reads idle/interval/probes.\n")
	b.WriteString("- JSON (`keeptune catalog -o json`): durations are seconds in keys ending in `_s`; a value the\n")
	b.WriteString("  source does not state is `null`, `none` is `0`, and `os_default` lists the keys the OS decides.\n\n")

	b.WriteString("## Middleboxes\n\n")
	b.WriteString("| entry | what | layer | idle timeout | range | refreshed by | on expiry | verified |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|\n")
	for _, e := range all {
		if e.Kind != KindMiddlebox {
			continue
		}
		idle := "?"
		if e.IdleTimeout != nil {
			idle = textfmt.Setting(e.IdleTimeout.Default)
		}
		fmt.Fprintf(&b, "| [%s](#%s) | %s | %d | %s | %s | %s | %s | %s |\n", e.Name, e.Name, e.Title, e.Layer,
			idle, dash(e.RangeText()), shortRefresh(e.RefreshedBy), shortExpiry(e.OnExpiry), mark(e.Verified))
	}

	b.WriteString("\n## Software\n\n")
	b.WriteString("| entry | what | downstream idle | downstream TCP keepalive | upstream idle | upstream TCP keepalive | verified |\n")
	b.WriteString("|---|---|---|---|---|---|---|\n")
	for _, e := range all {
		if e.Kind != KindSoftware {
			continue
		}
		fmt.Fprintf(&b, "| [%s](#%s) | %s | %s | %s | %s | %s | %s |\n", e.Name, e.Name, e.Title,
			idleCell(e.down), tcpCell(e.down), idleCell(e.up), tcpCell(e.up), mark(e.Verified))
	}

	b.WriteString("\n## Entries\n")
	for _, e := range all {
		fmt.Fprintf(&b, "\n### %s\n\n", e.Name)
		fmt.Fprintf(&b, "**%s** (%s", e.Title, e.Kind)
		if len(e.Aliases) > 0 {
			fmt.Fprintf(&b, "; also `%s`", strings.Join(e.Aliases, "`, `"))
		}
		b.WriteString(")\n\n")
		section := ""
		for _, v := range e.Values() {
			if v.Side != section {
				section = v.Side
				fmt.Fprintf(&b, "- %s (connections it %s):\n", section, map[string]string{"downstream": "accepts", "upstream": "opens"}[section])
			}
			indent := ""
			if v.Side != "" {
				indent = "  "
			}
			fmt.Fprintf(&b, "%s- %s: %s\n", indent, v.Label, v.Text)
		}
		fmt.Fprintf(&b, "\n**Source:** %s\n\n", e.Source)
		if e.Verified {
			b.WriteString("**Verified:** ✓ yes\n")
		} else {
			b.WriteString("**Verified:** ✗ no (secondary material; confirm before relying on it)\n")
		}
		if e.Notes != "" {
			fmt.Fprintf(&b, "\n%s\n", e.Notes)
		}
	}
	return b.Bytes()
}

func idleCell(s *side) string {
	if s == nil || s.idle.st == unstated {
		return "—"
	}
	return durRow("", "", s.idle).text
}

func tcpCell(s *side) string {
	if s == nil {
		return "—"
	}
	return s.tcpSummary()
}

func mark(v bool) string {
	if v {
		return "✓"
	}
	return "✗"
}

func dash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}
