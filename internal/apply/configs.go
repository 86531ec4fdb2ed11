package apply

import (
	"fmt"
	"io/fs"
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
// servers.
type ServerControl interface {
	Check(server, main string, swapped map[string]string) error
	Reload(server string) (how string, err error)
}

// configWork is one configuration file being edited.
type configWork struct {
	edit ConfigEdit
}

func prepareConfigs(edits []ConfigEdit, o *Options, p *pending, add func(string, string, fileNow, []byte, fs.FileMode, *configWork) error) error {
	if len(edits) > 0 {
		return fmt.Errorf("configuration edits are not supported yet")
	}
	return nil
}

func checkConfigs(p *pending, o *Options) error { return nil }

func reloadConfigs(j *Journal, e *Entry, p *pending, o *Options) error { return nil }

func reloadAfterRollback(e *Entry, o *Options, res *RollbackResult) error { return nil }
