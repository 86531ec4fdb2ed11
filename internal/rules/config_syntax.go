package rules

import (
	"errors"
	"strings"

	"github.com/keeptune/keeptune/internal/configs"
	"github.com/keeptune/keeptune/internal/model"
	"github.com/keeptune/keeptune/internal/yamlx"
)

// configSyntaxRules report what the parsers found about the files themselves, for every format.
var configSyntaxRules = []Rule{configWarning, configRejected}

var configWarning = Rule{
	ID: "KT890", Name: "config-may-be-refused", Severity: model.SeverityWarning,
	Title: "Configuration line the server may refuse, depending on what the file does not say",
	What: "Reports what a parser read but could not judge from the file alone: a directive of a module " +
		"that must be built in or loaded (nginx load_module, Apache LoadModule), a directive keeptune " +
		"does not know at all, a keyword added in a later server version than the one given, an include " +
		"that leaves the tree `lint --root` reads.",
	Why: "A server refuses to start on a directive it does not know. keeptune cannot see which modules a " +
		"build has, so it neither rejects such a file (it may be right) nor stays silent (it may not be).",
	Fix: "Load the module the finding names (or remove the directive), give the server's version with " +
		"--server-version, or suppress the finding in place with `# keeptune:ignore KT890 reason`.",
	Source: "nginx ngx_conf_handler (src/core/ngx_conf_file.c: \"unknown directive\"); Apache httpd " +
		"\"Invalid command ..., perhaps misspelled or defined by a module not included in the server " +
		"configuration\"; HAProxy cfgparse.c (\"unknown keyword\")",
	Check: func(in *Input) []model.Finding {
		var out []model.Finding
		for _, c := range in.Configs {
			for _, w := range c.Warnings {
				loc := w.Location
				f := model.Finding{
					Severity: model.SeverityWarning, Subject: c.Format + " " + loc.String(),
					Message:  w.Message,
					Evidence: []model.Evidence{{Name: "line", Value: loc.String(), Source: configs.Src(loc.File, loc.Line)}},
					Location: &loc,
					Fix:      &model.Fix{Note: "as the message says: load the module it names, give the server version (--server-version), add the file to the repository, or suppress with # keeptune:ignore KT890 reason"},
				}
				if w.Module != "" {
					f.Evidence = append(f.Evidence, model.Evidence{Name: "module", Value: w.Module, Source: configs.Src(loc.File, loc.Line)})
				}
				out = append(out, f)
			}
		}
		return out
	},
}

var configRejected = Rule{
	ID: "KT891", Name: "config-rejected", Severity: model.SeverityError,
	Title: "Configuration file its server would refuse, or that could not be read",
	What: "One finding per file lint could not read or that its server would refuse to load (syntax, " +
		"block structure, argument counts and values, unknown or removed keywords, required sections), at " +
		"the file and line the server names; a chain file keeptune cannot load is one too, at its line and column. " +
		"The other files are still linted.",
	Why: "A server that refuses its configuration does not start, or a reload keeps the old one running: " +
		"every other finding about the file is moot until it loads.",
	Fix:    "Correct the line named (the message says what the server expects there; a misspelt directive gets a did-you-mean).",
	Source: "nginx -t, haproxy -c, apache2 -t and the other servers' own checks; keeptune's parsers follow them (docs/configs.md)",
	Check: func(in *Input) []model.Finding {
		var out []model.Finding
		for _, err := range in.ConfigErrors {
			f := model.Finding{Severity: model.SeverityError, Subject: "configuration", Message: err.Error(),
				Fix: &model.Fix{Note: "correct the file so that its server loads it"}}
			var pe *configs.ParseError
			var chainErr *yamlx.PosError
			switch {
			case errors.As(err, &chainErr) && chainErr.File != "":
				// A chain file (keeptune.yaml): keeptune itself reads it, no server does.
				f.Subject = "chain file " + chainErr.File
				loc := model.Location{File: chainErr.File, Line: chainErr.Line, Column: chainErr.Column}
				f.Location = &loc
				f.Message = chainErr.Msg
				f.Fix.Note = "correct the chain file at the line and column named (docs/chain.md lists its keys)"
			case errors.As(err, &pe):
				f.Subject = pe.File
				loc := model.Location{File: pe.File, Line: pe.Line}
				f.Location = &loc
				f.Message = strings.TrimPrefix(pe.Error(), loc.String()+": ")
				f.Evidence = []model.Evidence{{Name: "line", Value: loc.String(), Source: configs.Src(pe.File, pe.Line)}}
				if pe.Hint != "" {
					f.Fix.Note = pe.Hint
				}
			}
			out = append(out, f)
		}
		return out
	},
}
