package plan

import (
	"fmt"
	"io"
	"strings"
)

// WriteText renders the plan for people, grouped by where each part is applied: the host's
// sysctls (one file, the lines to remove, the commands), each other namespace, the conflicts.
func WriteText(w io.Writer, p *Plan) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Plan for %s (profile %s): %s, %s to remove, %s to write, %s\n",
		orDash(p.Host), p.Profile, count(len(p.Changes), "change"), count(len(p.Removes), "line"),
		count(len(p.SysctlFiles)+len(p.ConfigDiffs), "file"), count(len(p.Conflicts), "conflict"))
	if len(p.Changes) == 0 && len(p.Removes) == 0 && len(p.Conflicts) == 0 {
		b.WriteString("\nNothing to change: every planned setting is at its target.\n")
	}
	var order []string
	groups := map[string][]Change{}
	scopes := map[string]Scope{}
	for _, c := range p.Changes {
		id := c.Scope.ID()
		if _, ok := groups[id]; !ok {
			order = append(order, id)
			scopes[id] = c.Scope
		}
		groups[id] = append(groups[id], c)
	}
	for _, id := range order {
		s := scopes[id]
		fmt.Fprintf(&b, "\n%s\n", scopeTitle(s))
		var now []string
		others := map[string][]string{}
		for _, c := range groups[id] {
			from := c.From.Value
			if !c.From.Known {
				from = "unknown"
			}
			fmt.Fprintf(&b, "  %s  %s (%s) -> %s\n", c.Key, from, c.From.Source, c.To)
			for _, r := range c.Why {
				fmt.Fprintf(&b, "    %-11s %s\n", r.Kind+":", r.Text)
			}
			for _, st := range c.Apply {
				switch {
				case st.Where == "windows" || st.Where == "macos" || st.Where == "freebsd":
					others[st.Where] = append(others[st.Where], withNote(st.Text, st.Note))
				case st.Kind == StepCommand && st.Where == "now":
					now = append(now, st.Text)
				case st.Kind == StepLine && st.Where == "persist" && s.Kind == ScopeNetns:
					// said once for the namespace, below
				case st.Kind == StepLine || st.Kind == StepSnippet:
					fmt.Fprintf(&b, "    %-11s %s\n", st.Where+":", indent(withNote(strings.TrimRight(st.Text, "\n"), st.Note), "                "))
				}
			}
		}
		if len(now) > 0 {
			b.WriteString("  apply now:\n    " + JoinSysctlW(now) + "\n")
		}
		if s.Kind == ScopeNetns {
			b.WriteString("  persist: where the namespace is made (the script that runs ip netns add, or the pod and container forms below)\n")
		}
		if s.Kind == ScopeHost {
			writeHostFiles(&b, p)
		}
		if len(others) > 0 {
			b.WriteString("  the same targets on other systems:\n")
			for _, os := range []string{"windows", "macos", "freebsd"} {
				for _, t := range others[os] {
					fmt.Fprintf(&b, "    %-8s %s\n", os+":", t)
				}
			}
		}
		for _, n := range p.Notes {
			if n.Scope != nil && n.Scope.ID() == id {
				b.WriteString("  note: " + indent(n.Text, "    ") + "\n")
			}
		}
	}
	if len(order) == 0 && (len(p.Removes) > 0 || len(p.SysctlFiles) > 0) {
		b.WriteString("\nhost\n")
		writeHostFiles(&b, p)
	}
	if len(p.Conflicts) > 0 {
		b.WriteString("\nconflicts (nothing planned for these)\n")
		for _, c := range p.Conflicts {
			fmt.Fprintf(&b, "  %s in %s\n", c.Key, c.Scope.Name)
			for _, r := range c.Constraints {
				b.WriteString("    " + r.Text + "\n")
			}
			for _, ch := range c.Choices {
				b.WriteString("    choice: " + ch + "\n")
			}
		}
	}
	for _, n := range p.Notes {
		if n.Scope == nil {
			b.WriteString("\nnote: " + indent(n.Text, "  ") + "\n")
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writeHostFiles(b *strings.Builder, p *Plan) {
	for _, f := range p.SysctlFiles {
		fmt.Fprintf(b, "  persist: write %s (keeptune plan -o sysctl):\n", f.Path)
		for _, l := range strings.Split(strings.TrimRight(f.Content, "\n"), "\n") {
			b.WriteString("    | " + l + "\n")
		}
	}
	if len(p.Removes) > 0 {
		b.WriteString("  and delete these lines, so that one file holds each value:\n")
		for _, r := range p.Removes {
			fmt.Fprintf(b, "    %s:%d  %s  (%s)\n", r.File, r.Line, r.Text, r.Why)
		}
	}
	if len(p.SysctlFiles) > 0 {
		b.WriteString("  then: sysctl --system (or systemd-sysctl): both leave the planned values\n")
	}
}

func scopeTitle(s Scope) string {
	switch s.Kind {
	case ScopeHost:
		return fmt.Sprintf("host network namespace (%s): sysctls", s.Name)
	case ScopeNetns:
		return fmt.Sprintf("network namespace %s: sysctls", s.Name)
	case ScopeHop, ScopeConfig:
		return "hop " + s.Name
	}
	return s.Name
}

func count(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func indent(s, pre string) string { return strings.ReplaceAll(s, "\n", "\n"+pre) }

// JoinSysctlW merges commands "PREFIX sysctl -w k=v" with one prefix into one command, as people
// type it: "sysctl -w a=1 b=2"; other commands are joined with &&.
func JoinSysctlW(cmds []string) string {
	if len(cmds) == 0 {
		return ""
	}
	prefix, _, ok := strings.Cut(cmds[0], "sysctl -w ")
	var kvs []string
	for _, c := range cmds {
		p, kv, found := strings.Cut(c, "sysctl -w ")
		if !found || p != prefix || !ok {
			return strings.Join(cmds, " && ")
		}
		kvs = append(kvs, kv)
	}
	return prefix + "sysctl -w " + strings.Join(kvs, " ")
}

// withNote writes a step's note after its text, in parentheses on the same line for a one-line
// text and on a line of its own after a longer one, so the text stays whole to copy.
func withNote(text, note string) string {
	switch {
	case note == "":
		return text
	case strings.Contains(text, "\n"):
		return text + "\n(" + note + ")"
	}
	return text + "  (" + note + ")"
}
