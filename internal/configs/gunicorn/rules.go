package gunicorn

import (
	"fmt"

	"github.com/keeptune/keeptune/internal/configs"
	"github.com/keeptune/keeptune/internal/model"
)

// rules are the checks of gunicorn configurations, in ID order (docs/rules.md).
var rules = []configs.Rule{gunicornSyncKeepalive}

func init() { configs.RegisterRules("gunicorn", rules...) }

var gunicornSyncKeepalive = configs.Rule{
	ID: "KT880", Name: "gunicorn-sync-ignores-keepalive", Severity: model.SeverityWarning,
	Title: "Gunicorn keepalive set for the sync worker, which ignores it",
	What: "Flags a keepalive setting (configuration file, --keep-alive or GUNICORN_CMD_ARGS) when the " +
		"worker is sync: the default, and not turned into gthread by threads > 1.",
	Why: "The sync worker closes every connection after its response and ignores keepalive: a keepalive " +
		"chosen to outlast a load balancer's pool (the usual reason to set it) does nothing, and the " +
		"balancer's reuse of the closed connections shows as 502s or retried requests. Gunicorn's docs put " +
		"the sync worker behind a buffering proxy such as nginx.",
	Fix: "worker_class = \"gthread\" (with threads = N) or gevent, keeping keepalive longer than the " +
		"idle timeout of whatever pools connections to Gunicorn; or drop keepalive and keep the sync worker " +
		"behind nginx.",
	Source: "Gunicorn docs, settings keepalive (\"The sync worker does not support persistent connections and will ignore this option\"), gunicorn/config.py (sync with threads > 1 runs gthread)",
	Check: func(in *configs.RuleInput) []model.Finding {
		var out []model.Finding
		for _, c := range configs.Details[*Config](in.Configs) {
			ka := c.Settings["keepalive"]
			worker, ws := c.WorkerClass()
			if ka == nil || worker != "sync" {
				continue
			}
			ev := []model.Evidence{{Name: "keepalive", Value: ka.Value, Source: configs.Src(ka.File, ka.Line)}}
			if ws != nil {
				ev = append(ev, model.Evidence{Name: "worker_class", Value: ws.Value, Source: configs.Src(ws.File, ws.Line)})
			} else {
				ev = append(ev, model.Evidence{Name: "worker_class", Value: "sync", Source: model.Source{Kind: model.SourceRuntimeDefault, Detail: "gunicorn default"}})
			}
			fix := &model.Fix{Key: "worker_class", Current: "sync", Proposed: "gthread", Line: "worker_class = \"gthread\"\nthreads = 4", File: ka.File,
				Note: "Or drop keepalive and keep the sync worker behind a buffering proxy (nginx)."}
			switch {
			case ka.From != "config":
				fix.Line = "--worker-class gthread --threads 4"
				fix.Note = "Add to the gunicorn command line. " + fix.Note
			case ws != nil && ws.From == "config":
				fix.Line, fix.FileLine = "worker_class = \"gthread\"", ws.Line
				fix.Note = "And add threads = 4 (or more). " + fix.Note
			}
			out = append(out, model.Finding{
				Severity: model.SeverityWarning, Subject: "gunicorn keepalive in " + c.File,
				Message:  fmt.Sprintf("keepalive %s is set, but the worker is sync, which ignores it and closes every connection after its response.", ka.Value),
				Evidence: ev,
				Location: configs.Loc(ka.File, ka.Line),
				Fix:      fix,
			})
		}
		return out
	},
}
