package configs

import (
	"context"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"sync"
	"time"
)

// versionCommands are how each server says its version: the command (the first one found in
// PATH) and its flag. The version is the first dotted number of the output.
var versionCommands = map[string][][]string{
	"nginx":     {{"nginx", "-v"}},
	"haproxy":   {{"haproxy", "-v"}},
	"apache":    {{"apache2", "-v"}, {"httpd", "-v"}},
	"redis":     {{"redis-server", "--version"}},
	"pgbouncer": {{"pgbouncer", "--version"}},
	"postgres":  {{"postgres", "--version"}, {"/usr/lib/postgresql/*/bin/postgres", "--version"}},
}

var (
	versionOnce  sync.Map // format -> *versionResult
	versionDigit = regexp.MustCompile(`\d+\.\d+(?:\.\d+)?`)
)

type versionResult struct {
	once sync.Once
	v    string
}

// InstalledVersion returns the version of the format's server installed on this machine ("" when
// none is, or it does not say within a second). It runs the server's version flag once per
// format and process.
func InstalledVersion(format string) string {
	r, _ := versionOnce.LoadOrStore(format, &versionResult{})
	res := r.(*versionResult)
	res.once.Do(func() { res.v = installedVersion(format) })
	return res.v
}

func installedVersion(format string) string {
	for _, c := range versionCommands[format] {
		bin := c[0]
		if matches, _ := filepath.Glob(bin); len(matches) > 0 && filepath.IsAbs(bin) {
			sort.Strings(matches)
			bin = matches[len(matches)-1]
		} else if p, err := exec.LookPath(bin); err == nil {
			bin = p
		} else {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		out, _ := exec.CommandContext(ctx, bin, c[1:]...).CombinedOutput()
		cancel()
		if v := versionDigit.Find(out); v != nil {
			return string(v)
		}
	}
	return ""
}
