package apply

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// ConfigEdit is a server configuration change from the plan: a unified diff against Path.
type ConfigEdit struct {
	// Server is "nginx", "haproxy" or "apache".
	Server string
	// Path is the file the diff edits.
	Path string
	// Diff is a unified diff against Path.
	Diff string
	// Main is the server's main configuration file, checked as a whole ("" for the server's
	// default).
	Main string
}

// ServerControl checks configurations with the server's own check and reloads running
// servers. RealServers is the real one.
type ServerControl interface {
	// Check runs the server's check of main with each original file replaced by its edited
	// copy (swapped maps original -> edited), without touching the originals.
	Check(server, main string, swapped map[string]string) error
	// Reload makes the running server read its configuration again and says how; a server that
	// is not running needs nothing ("" and no error).
	Reload(server, main string) (how string, err error)
}

// configWork is one configuration file being edited.
type configWork struct {
	edit ConfigEdit
}

func (o *Options) servers() ServerControl {
	if o.Servers == nil {
		return RealServers{}
	}
	return o.Servers
}

var knownServers = map[string]bool{"nginx": true, "haproxy": true, "apache": true}

func prepareConfigs(edits []ConfigEdit, o *Options, p *pending, add func(string, string, fileNow, []byte, fs.FileMode, *configWork) error) error {
	reload := map[string]bool{}
	for _, ed := range edits {
		if !knownServers[ed.Server] {
			return fmt.Errorf("apply edits nginx, haproxy and apache configurations, not %s (%s)", ed.Server, ed.Path)
		}
		path, err := o.resolve(ed.Path)
		if err != nil {
			return err
		}
		now, err := readFileNow(o.path(path))
		if err != nil {
			return err
		}
		if !now.exists {
			p.drifts = append(p.drifts, Drift{What: path, Planned: "the file the diff edits", Now: "no such file"})
			continue
		}
		next, err := applyUnified(now.data, ed.Diff)
		if err != nil {
			if reverseApplies(now.data, ed.Diff) {
				p.steps = append(p.steps, Step{Kind: "config", Target: path, Status: "already"})
				continue
			}
			p.drifts = append(p.drifts, Drift{What: path, Planned: "the file the diff was made against", Now: err.Error()})
			continue
		}
		ed.Path = path
		if err := add(path, "config", now, next, now.meta.Mode, &configWork{edit: ed}); err != nil {
			return err
		}
		p.steps = append(p.steps, Step{Kind: "config", Target: path, To: ed.Server})
		key := ed.Server + "\x00" + ed.Main
		if !reload[key] {
			reload[key] = true
			p.entry.Reloads = append(p.entry.Reloads, ReloadRecord{Server: ed.Server, Main: ed.Main})
		}
	}
	return nil
}

// checkConfigs writes each edited file next to its original and runs the server's own check
// against the edited tree. A failing check changes nothing and says why.
func checkConfigs(p *pending, o *Options) error {
	type group struct{ server, main string }
	swaps := map[group]map[string]string{}
	var temps []string
	defer func() {
		for _, t := range temps {
			os.Remove(t)
		}
	}()
	for i, w := range p.edits {
		if w == nil {
			continue
		}
		orig := o.path(p.entry.Files[i].Path)
		dir, base := filepath.Split(orig)
		tmp, err := tempName(dir, base)
		if err != nil {
			return err
		}
		if err := os.WriteFile(tmp, p.writes[i], p.entry.Files[i].AfterMode.Perm()); err != nil {
			return fmt.Errorf("write the edited %s beside it: %w (nothing was changed)", orig, err)
		}
		temps = append(temps, tmp)
		g := group{w.edit.Server, w.edit.Main}
		if swaps[g] == nil {
			swaps[g] = map[string]string{}
		}
		swaps[g][orig] = tmp
	}
	groups := make([]group, 0, len(swaps))
	for g := range swaps {
		groups = append(groups, g)
	}
	sort.Slice(groups, func(a, b int) bool { return groups[a].server+groups[a].main < groups[b].server+groups[b].main })
	for _, g := range groups {
		if err := o.servers().Check(g.server, g.main, swaps[g]); err != nil {
			return fmt.Errorf("%w; nothing was changed", err)
		}
		o.log("checked the edited %s configuration", g.server)
	}
	return nil
}

// reloadConfigs reloads every server whose configuration apply swapped in, recording how in
// the journal so that rollback reloads the same way.
func reloadConfigs(j *Journal, e *Entry, p *pending, o *Options) error {
	for i := range e.Reloads {
		r := &e.Reloads[i]
		how, err := o.servers().Reload(r.Server, r.Main)
		if err != nil {
			return fmt.Errorf("reload %s: %w", r.Server, err)
		}
		r.How = how
		if how == "" {
			r.How = "not running"
		}
		p.steps = append(p.steps, Step{Kind: "reload", Target: r.Server, To: r.How})
		o.log("reloaded %s: %s", r.Server, r.How)
		if err := j.save(e); err != nil {
			return err
		}
		failpoint(fmt.Sprintf("apply:reload:%d", i))
	}
	return nil
}

// reloadAfterRollback reloads the servers apply reloaded, so they read the restored files.
func reloadAfterRollback(e *Entry, o *Options, res *RollbackResult) error {
	var errs []error
	for _, r := range e.Reloads {
		how, err := o.servers().Reload(r.Server, r.Main)
		if err != nil {
			errs = append(errs, fmt.Errorf("reload %s: %w", r.Server, err))
			continue
		}
		if how == "" {
			how = "not running"
		}
		res.Steps = append(res.Steps, Step{Kind: "reload", Target: r.Server, To: how, Status: "done"})
	}
	if len(errs) > 0 {
		return fmt.Errorf("the files are restored, but: %w", errors.Join(errs...))
	}
	return nil
}

// checkCommand is the server's own configuration check.
func checkCommand(server, main string) []string {
	switch server {
	case "nginx":
		if main != "" {
			return []string{"nginx", "-t", "-c", main}
		}
		return []string{"nginx", "-t"}
	case "haproxy":
		if main == "" {
			main = "/etc/haproxy/haproxy.cfg"
		}
		return []string{"haproxy", "-c", "-f", main}
	case "apache":
		if main != "" {
			return []string{"apache2ctl", "-t", "-f", main}
		}
		return []string{"apache2ctl", "-t"}
	}
	return nil
}

func firstLines(out []byte, n int) string {
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n  ")
}
