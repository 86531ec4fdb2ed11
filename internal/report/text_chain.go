package report

import (
	"cmp"
	"github.com/keeptune/keeptune/internal/textfmt"
	"strconv"
	"strings"
	"time"

	"github.com/keeptune/keeptune/internal/model"
)

// The chain drawing: one line per hop, from the client side to the application, with the values
// that decide how long an idle connection lives on each hop, and between the hops the one-line
// summary of each finding about them. Box-drawing characters are used as elsewhere in the text
// output (which is UTF-8 throughout); the layout does not depend on colour.

const (
	// chainIndent is where hop names start; the connector is drawn under their third column.
	chainIndent = "  "
	// chainBar is the connector between two hops, and the prefix of the lines drawn on it.
	chainBar = "    │"
	// maxHopNameColumn and maxHopKindColumn cap the first two columns: a longer name or kind
	// ends its line and the hop goes on below, as in the sysctl table.
	maxHopNameColumn = 16
	maxHopKindColumn = 26
	// itemSep separates the values of a software hop's side.
	itemSep = " · "
)

// hopNotes are the findings drawn around one hop of a chain.
type hopNotes struct {
	// before are findings about several hops of which this is the last: they are drawn on the
	// connector above it, so that they sit between the hops they concern.
	before []model.Finding
	// under are findings about this hop alone, drawn right below it.
	under []model.Finding
}

// chains draws every chain the run read, each in its own section.
func (t *textRenderer) chains(r Report, fs []model.Finding) {
	placed := placeFindings(r.Chains, fs)
	for _, c := range r.Chains {
		if c != nil {
			t.chain(c, placed[c])
		}
	}
}

// placeFindings decides, for every finding that names hops, which chain and which hop it is
// drawn at; fs is in report order, which the drawing keeps.
func placeFindings(chains []*model.Chain, fs []model.Finding) map[*model.Chain][]hopNotes {
	out := map[*model.Chain][]hopNotes{}
	for _, f := range fs {
		c, first, last := findingChain(chains, f)
		if c == nil {
			continue
		}
		notes := out[c]
		if notes == nil {
			notes = make([]hopNotes, len(c.Hops))
			out[c] = notes
		}
		if first == last {
			notes[last].under = append(notes[last].under, f)
		} else {
			notes[last].before = append(notes[last].before, f)
		}
	}
	return out
}

// findingChain finds the chain a finding is about and the first and last of its hops there, in
// chain order. A finding names hops, not chains: it belongs to the chain that has every hop it
// names. When several do (two chain files with an "app"), the one its location points into
// wins (the chain file itself, or a hop's config); when that does not settle it the finding is
// not drawn at all, since a finding drawn in the wrong chain misleads more than a missing one
// (it is in the findings section either way).
func findingChain(chains []*model.Chain, f model.Finding) (c *model.Chain, first, last int) {
	if len(f.Hops) == 0 {
		return nil, 0, 0
	}
	type candidate struct {
		c           *model.Chain
		first, last int
	}
	var cands []candidate
	for _, c := range chains {
		if c == nil {
			continue
		}
		if first, last, ok := hopSpan(c, f.Hops); ok {
			cands = append(cands, candidate{c, first, last})
		}
	}
	if len(cands) > 1 && f.Location != nil && f.Location.File != "" {
		var narrowed []candidate
		for _, cand := range cands {
			if chainHasFile(cand.c, f.Location.File) {
				narrowed = append(narrowed, cand)
			}
		}
		cands = narrowed
	}
	if len(cands) != 1 {
		return nil, 0, 0
	}
	return cands[0].c, cands[0].first, cands[0].last
}

// hopSpan returns the positions of the first and last of the named hops in c; ok is false when
// c lacks one of them.
func hopSpan(c *model.Chain, names []string) (first, last int, ok bool) {
	first, last = len(c.Hops), -1
	for _, name := range names {
		i := hopIndex(c, name)
		if i < 0 {
			return 0, 0, false
		}
		first, last = min(first, i), max(last, i)
	}
	return first, last, true
}

func hopIndex(c *model.Chain, name string) int {
	for i := range c.Hops {
		if c.Hops[i].Name == name {
			return i
		}
	}
	return -1
}

// chainHasFile reports whether file is the chain file or a file one of its hops is read from.
func chainHasFile(c *model.Chain, file string) bool {
	if c.File == file {
		return true
	}
	for i := range c.Hops {
		if h := &c.Hops[i]; h.Declared.File == file || h.Config == file {
			return true
		}
	}
	return false
}

// chain draws one chain: a section titled with its file and profile, then its hops.
func (t *textRenderer) chain(c *model.Chain, notes []hopNotes) {
	title := "Chain " + cmp.Or(c.File, "(no file)")
	var attrs []string
	if c.Profile != "" {
		attrs = append(attrs, "profile "+c.Profile)
	}
	if c.ExpectConnections > 0 {
		attrs = append(attrs, strconv.Itoa(c.ExpectConnections)+" connections expected")
	}
	if len(attrs) > 0 {
		title += " (" + strings.Join(attrs, ", ") + ")"
	}
	t.section(title)
	if len(c.Hops) == 0 {
		t.line(chainIndent + "no hops")
		return
	}
	if notes == nil {
		notes = make([]hopNotes, len(c.Hops))
	}

	// Column widths over the whole chain, so that names, kinds and the middleboxes' values line
	// up from the first hop to the last. A name or kind wider than its cap does not widen its
	// column: it gets a line of its own.
	nameW, kindW := 0, 0
	var mbRows [][]string
	for i := range c.Hops {
		h := &c.Hops[i]
		if n := visibleLen(h.Name); n <= maxHopNameColumn {
			nameW = max(nameW, n)
		}
		if n := visibleLen(hopKind(h)); n <= maxHopKindColumn {
			kindW = max(kindW, n)
		}
		if h.Middlebox != nil {
			mbRows = append(mbRows, middleboxCells(h.Middlebox))
		}
	}
	mbWidths := columnWidths(mbRows)

	for i := range c.Hops {
		h := &c.Hops[i]
		last := i == len(c.Hops)-1
		t.hop(h, nameW, kindW, mbWidths, last)
		for _, f := range notes[i].under {
			t.line(t.chainFinding(f, last))
		}
		if last {
			break
		}
		for _, f := range notes[i+1].before {
			t.line(t.chainFinding(f, false))
		}
		if len(notes[i].under) == 0 && len(notes[i+1].before) == 0 {
			t.line(chainBar)
		}
	}
}

// hop draws one hop: its name, its kind and its values, continued on further lines (with the
// connector beside them, except for the last hop) when they do not fit on one.
func (t *textRenderer) hop(h *model.Hop, nameW, kindW int, mbWidths []int, last bool) {
	// cont starts a continuation line of this hop, its content starting at column col.
	cont := func(col int) string {
		if last {
			return strings.Repeat(" ", col)
		}
		return chainBar + strings.Repeat(" ", max(col-visibleLen(chainBar), 1))
	}
	var out []string
	cur := chainIndent + t.st.bold(h.Name)
	col := visibleLen(chainIndent) + nameW + 2 // where the kind column starts
	// put ends cur's current column and moves to column col, on a new line if cur is past it.
	put := func() {
		if gap := col - visibleLen(cur); gap > 0 {
			cur += strings.Repeat(" ", gap)
		} else {
			out = append(out, cur)
			cur = cont(col)
		}
	}
	put()
	cur += hopKind(h)
	col += kindW + 2 // where the values start
	put()
	room := lineWidth - col

	var blocks [][]string // each block starts on a line of its own
	switch {
	case h.Middlebox != nil:
		blocks = append(blocks, itemLines(padCells(middleboxCells(h.Middlebox), mbWidths), "  ", room))
	default:
		sides := hopSides(h)
		labelW := 0
		if len(sides) > 1 || (len(sides) == 1 && !sides[0].natural) {
			for _, s := range sides {
				labelW = max(labelW, len(s.label)+2)
			}
		}
		for _, s := range sides {
			items := sideItems(s.side, s.down)
			if len(items) == 0 && labelW == 0 {
				continue
			}
			if len(items) == 0 {
				items = []string{"nothing known"}
			}
			ls := itemLines(items, itemSep, room-labelW)
			for j := range ls {
				lead := strings.Repeat(" ", labelW)
				if j == 0 && labelW > 0 {
					lead = s.label + ":" + strings.Repeat(" ", labelW-len(s.label)-1)
				}
				ls[j] = lead + ls[j]
			}
			blocks = append(blocks, ls)
		}
	}
	if t.verbose {
		var where []string
		if h.Declared.File != "" {
			where = append(where, "declared at "+h.Declared.String())
		}
		if h.Config != "" {
			where = append(where, "config "+h.Config)
		}
		if len(where) > 0 {
			ls := itemLines(where, itemSep, room)
			for j := range ls {
				ls[j] = t.st.dim(ls[j])
			}
			blocks = append(blocks, ls)
		}
	}

	first := true
	for _, b := range blocks {
		for _, l := range b {
			if !first {
				out = append(out, cur)
				cur = cont(col)
			}
			cur += l
			first = false
		}
	}
	out = append(out, cur)
	t.lines(out)
}

// chainFinding is a finding's one-line summary on the connector: severity, rule, subject and
// the first sentence of the message, cut to the line width.
func (t *textRenderer) chainFinding(f model.Finding, afterLast bool) string {
	lead := chainBar + "  "
	if afterLast {
		lead = strings.Repeat(" ", visibleLen(lead))
	}
	sev := f.Severity.String()
	head := t.st.sev(f.Severity, severityMark(f.Severity)+" "+sev) +
		strings.Repeat(" ", max(len("warning")-len(sev), 0)+2)
	if f.Rule != "" {
		head += t.st.bold(f.Rule) + "  "
	}
	text := firstSentence(f.Message)
	if f.Subject != "" {
		text = strings.TrimSuffix(f.Subject+": "+text, ": ")
	}
	room := lineWidth - visibleLen(lead) - visibleLen(head)
	return lead + head + truncate(text, room)
}

// severityMark is the symbol in front of a finding drawn in a chain.
func severityMark(s model.Severity) string {
	switch s {
	case model.SeverityError:
		return "✗"
	case model.SeverityWarning:
		return "!"
	}
	return "i"
}

// firstSentence returns the message up to the end of its first sentence (a period followed by
// a space or a line break), without that period.
func firstSentence(msg string) string {
	msg = strings.TrimSpace(msg)
	for i := 0; i+1 < len(msg); i++ {
		if msg[i] == '.' && (msg[i+1] == ' ' || msg[i+1] == '\n') {
			return msg[:i]
		}
	}
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		msg = msg[:i]
	}
	return strings.TrimSuffix(msg, ".")
}

// truncate cuts plain text s to at most width columns, marking the cut with an ellipsis. It
// cuts between words unless that would lose more than a third of the room.
func truncate(s string, width int) string {
	if width <= 0 {
		return ""
	}
	rs := []rune(s)
	if len(rs) <= width {
		return s
	}
	cut := width - 1 // room for the ellipsis
	for i := cut; i > cut*2/3; i-- {
		if rs[i] == ' ' {
			cut = i
			break
		}
	}
	return strings.TrimRight(string(rs[:cut]), " ,;:(") + "…"
}

// hopKind is the second column: the hop's type and where its values come from.
func hopKind(h *model.Hop) string {
	s := cmp.Or(string(h.Type), "hop")
	if h.Catalog != "" {
		s += " " + h.Catalog
	}
	if h.Runtime != "" && h.Runtime != h.Catalog {
		s += " (" + h.Runtime + ")"
	}
	return s
}

// middleboxCells are a middlebox's values, one column each: layer, idle timeout, what refreshes
// it, what happens on expiry, and whether HTTP/2 PINGs count where that is known.
func middleboxCells(m *model.Middlebox) []string {
	layer := "L?"
	if m.Layer.Known {
		layer = "L" + strconv.Itoa(m.Layer.Value)
	}
	refresh := "?"
	if m.RefreshedBy.Known {
		switch m.RefreshedBy.Value {
		case model.RefreshAnySegment:
			refresh = "any segment"
		case model.RefreshPayload:
			refresh = "payload only"
		default:
			refresh = string(m.RefreshedBy.Value)
		}
	}
	expiry := "?"
	if m.OnExpiry.Known {
		switch m.OnExpiry.Value {
		case model.ExpirySilent:
			expiry = "silent drop"
		case model.ExpiryReset:
			expiry = "rst"
		default:
			expiry = string(m.OnExpiry.Value)
		}
	}
	cells := []string{layer, "idle " + knownDuration(m.IdleTimeout), "refresh: " + refresh, "on expiry: " + expiry}
	if p := m.HTTP2PingRefreshes; p.Known {
		if p.Value {
			cells = append(cells, "h2 ping refreshes")
		} else {
			cells = append(cells, "h2 ping ignored")
		}
	}
	return cells
}

// padCells pads every cell but the last to its column's width.
func padCells(cells []string, widths []int) []string {
	out := make([]string, len(cells))
	for i, c := range cells {
		out[i] = c
		if i < len(cells)-1 && i < len(widths) {
			out[i] += strings.Repeat(" ", max(widths[i]-visibleLen(c), 0))
		}
	}
	return out
}

// hopSide is one side of a software hop as drawn.
type hopSide struct {
	label string
	side  *model.Side
	down  bool
	// natural is set for the only side a client (upstream) or a server (downstream) has: it
	// needs no label.
	natural bool
}

func hopSides(h *model.Hop) []hopSide {
	var out []hopSide
	if h.Downstream != nil {
		out = append(out, hopSide{label: "downstream", side: h.Downstream, down: true,
			natural: h.Upstream == nil && h.Type == model.HopServer})
	}
	if h.Upstream != nil {
		out = append(out, hopSide{label: "upstream", side: h.Upstream,
			natural: h.Downstream == nil && h.Type == model.HopClient})
	}
	return out
}

// sideItems are the values of one side of a software hop that decide how long an idle
// connection lives: none when nothing about the side is known. Unknown values that always
// matter (the idle timeout, TCP keepalive) show as "?"; the others are left out unless set.
func sideItems(s *model.Side, down bool) []string {
	if !sideKnown(s) {
		return nil
	}
	var items []string
	switch {
	case s.Pools.Known && !s.Pools.Value && down:
		items = append(items, "no keep-alive")
	case s.Pools.Known && !s.Pools.Value:
		items = append(items, "no pooling")
	case s.IdleTimeout.Known && s.IdleTimeout.Value <= 0 && down:
		items = append(items, "keep-alive idle: no limit") // a known zero means none (model.Side)
	case s.IdleTimeout.Known && s.IdleTimeout.Value <= 0:
		items = append(items, "pool idle: no limit")
	case down:
		items = append(items, "keep-alive idle "+knownDuration(s.IdleTimeout))
	default:
		items = append(items, "pool idle "+knownDuration(s.IdleTimeout))
	}
	items = append(items, "tcp keepalive "+keepaliveShort(s.TCP))
	if u := s.TCP.UserTimeout; u.Known && u.Value > 0 {
		items = append(items, "user timeout "+shortDuration(u.Value))
	}
	if r := s.ReadTimeout; r.Known {
		if r.Value > 0 {
			items = append(items, "read timeout "+shortDuration(r.Value))
		} else {
			items = append(items, "no read timeout")
		}
	}
	if m := s.MaxLifetime; m.Known && m.Value > 0 {
		items = append(items, "max lifetime "+shortDuration(m.Value))
	}
	if p := s.HTTP2Ping; p.Known && p.Value > 0 {
		items = append(items, "h2 ping "+shortDuration(p.Value))
	}
	return append(items, grpcItems(s.GRPC)...)
}

// grpcItems are a side's gRPC keepalive values: the ping interval and its timeout as one item,
// the server's policy as others (named as in grpc-go, which no other setting is), the first
// marked "grpc".
func grpcItems(g *model.GRPCKeepalive) []string {
	if g == nil {
		return nil
	}
	var ping []string
	if g.Time.Known {
		if g.Time.Value > 0 {
			ping = append(ping, "time "+shortDuration(g.Time.Value))
		} else {
			ping = append(ping, "no pings")
		}
	}
	if g.Timeout.Known && g.Timeout.Value > 0 {
		ping = append(ping, "timeout "+shortDuration(g.Timeout.Value))
	}
	var items []string
	if len(ping) > 0 {
		items = append(items, strings.Join(ping, " "))
	}
	if g.MinTime.Known {
		items = append(items, "min_time "+shortDuration(g.MinTime.Value))
	}
	if g.PermitWithoutStream.Known {
		items = append(items, "permit_without_stream "+strconv.FormatBool(g.PermitWithoutStream.Value))
	}
	if len(items) > 0 {
		items[0] = "grpc " + items[0]
	}
	return items
}

// sideKnown reports whether anything about a side is known.
func sideKnown(s *model.Side) bool {
	k := s.TCP
	known := s.IdleTimeout.Known || s.Pools.Known || s.ReadTimeout.Known || s.ConnectTimeout.Known ||
		s.MaxLifetime.Known || s.HTTP2Ping.Known ||
		k.Enabled.Known || k.Idle.Known || k.Interval.Known || k.Count.Known || k.UserTimeout.Known
	if g := s.GRPC; g != nil {
		known = known || g.Time.Known || g.Timeout.Known || g.PermitWithoutStream.Known || g.MinTime.Known
	}
	return known
}

// keepaliveShort is TCP keepalive on a side: "off", "on 10m+1m15s×9" (idle + interval × count,
// "?" for what is unknown), "on, values unknown", or "?".
func keepaliveShort(k model.KeepaliveSettings) string {
	switch {
	case !k.Enabled.Known:
		return "?"
	case !k.Enabled.Value:
		return "off"
	case !k.Idle.Known && !k.Interval.Known && !k.Count.Known:
		return "on, values unknown"
	}
	count := "?"
	if k.Count.Known {
		count = strconv.Itoa(k.Count.Value)
	}
	return "on " + knownDuration(k.Idle) + "+" + knownDuration(k.Interval) + "×" + count
}

// knownDuration is a setting's duration, or "?".
func knownDuration(s model.Setting[time.Duration]) string {
	if !s.Known {
		return "?"
	}
	return shortDuration(s.Value)
}

// shortDuration is textfmt.Duration: the one duration style ("5s", "1m", "5m50s", "2h").
func shortDuration(d time.Duration) string { return textfmt.Duration(d) }

// itemLines lays items out on lines of at most room columns, joined by sep, breaking only
// between items (an item longer than a line gets a line of its own).
func itemLines(items []string, sep string, room int) []string {
	var out []string
	cur := ""
	for _, it := range items {
		switch {
		case cur == "":
			cur = it
		case visibleLen(cur)+visibleLen(sep)+visibleLen(strings.TrimRight(it, " ")) > room:
			out = append(out, strings.TrimRight(cur, " "))
			cur = it
		default:
			cur += sep + it
		}
	}
	if cur != "" {
		out = append(out, strings.TrimRight(cur, " "))
	}
	return out
}

// chainSummary names the hops of a finding for places without a drawing: "edge -> app".
func chainSummary(hops []string) string { return strings.Join(hops, " -> ") }
