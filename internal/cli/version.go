package cli

import (
	"bytes"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/spf13/cobra"

	"github.com/keeptune/keeptune/internal/jsonx"
	"github.com/keeptune/keeptune/internal/plan"
	"github.com/keeptune/keeptune/internal/report"
)

// VersionOptions are the flags of `keeptune version`.
type VersionOptions struct {
	Output string
}

// BuildInfo is what `keeptune version` reports: the module version (a tag for `go install
// ...@v1.2.3`, "(devel)" from a checkout), the VCS revision and time the build embedded, and the
// Go toolchain.
type BuildInfo struct {
	Module    string `json:"module"`
	Version   string `json:"version"`
	Revision  string `json:"revision,omitempty"`
	Time      string `json:"time,omitempty"`
	Modified  bool   `json:"modified,omitempty"`
	GoVersion string `json:"go_version"`
	Platform  string `json:"platform"`
}

func buildInfo() BuildInfo {
	out := BuildInfo{Module: "github.com/keeptune/keeptune", Version: "(unknown)", GoVersion: runtime.Version(),
		Platform: runtime.GOOS + "/" + runtime.GOARCH}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return out
	}
	if bi.Main.Path != "" {
		out.Module = bi.Main.Path
	}
	if bi.Main.Version != "" {
		out.Version = bi.Main.Version
	}
	if bi.GoVersion != "" {
		out.GoVersion = bi.GoVersion
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			out.Revision = s.Value
		case "vcs.time":
			out.Time = s.Value
		case "vcs.modified":
			out.Modified = s.Value == "true"
		}
	}
	return out
}

// version is the short form --version and reports print: the module version when the build has
// one (go install ...@v1.2.3), else the VCS revision a build from a checkout embeds
// ("devel-4bbd603", "+dirty" when the tree had changes), "dev" only when there is neither.
func version() string {
	b := buildInfo()
	if b.Version != "" && b.Version != "(devel)" && b.Version != "(unknown)" {
		return b.Version
	}
	if b.Revision != "" {
		v := "devel-" + b.Revision[:min(len(b.Revision), 12)]
		if b.Modified {
			v += "+dirty"
		}
		return v
	}
	return "dev"
}

func newVersionCmd(stdio IO) *cobra.Command {
	opts := VersionOptions{}
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print keeptune's version, VCS revision and Go version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			b := buildInfo()
			switch opts.Output {
			case "json":
				enc := jsonx.NewEncoder(stdio.Out)
				return enc.Encode(b)
			case "text":
			default:
				return checkOutput(opts.Output, textOrJSON)
			}
			fmt.Fprintf(stdio.Out, "keeptune %s\n", version())
			fmt.Fprintf(stdio.Out, "module:   %s %s\n", b.Module, b.Version)
			if b.Revision != "" {
				rev := b.Revision
				if b.Modified {
					rev += " (modified)"
				}
				if b.Time != "" {
					rev += ", " + b.Time
				}
				fmt.Fprintf(stdio.Out, "revision: %s\n", rev)
			} else {
				fmt.Fprintln(stdio.Out, "revision: unknown (built without VCS information)")
			}
			fmt.Fprintf(stdio.Out, "go:       %s %s\n", b.GoVersion, b.Platform)
			return nil
		},
	}
	cmd.Flags().StringVarP(&opts.Output, "output", "o", "text", "output format: text or json")
	return cmd
}

// writeReportHTML writes the --html picture of a report (audit, lint) to path; "" writes nothing.
func writeReportHTML(path string, r report.Report) error {
	if path == "" {
		return nil
	}
	var b bytes.Buffer
	if err := report.HTML(&b, r, report.HTMLOptions{Planned: plannedHopValues(r)}); err != nil {
		return runtimeErr(fmt.Errorf("render --html: %w", err))
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		return runtimeErr(fmt.Errorf("write --html %s: %w", path, err))
	}
	return nil
}

// plannedHopValues asks `keeptune plan` (internal/plan) what it would set on each chain's hop
// sides, so the picture draws the plan's values beside today's: keys "HOP.SIDE.KEY" as the
// findings' fixes name them ("app.downstream.idle_timeout").
func plannedHopValues(r report.Report) map[string]time.Duration {
	out := map[string]time.Duration{}
	for _, c := range r.Chains {
		if c == nil {
			continue
		}
		p := plan.Make(plan.Input{Snapshot: r.Snapshot, Chain: c, Configs: r.Configs, Profile: r.Profile})
		for _, ch := range p.Changes {
			if ch.Scope.Hop == "" {
				continue
			}
			if d, err := time.ParseDuration(ch.To); err == nil && d > 0 {
				out[ch.Scope.Hop+"."+ch.Scope.Side+"."+ch.Key] = d
			}
		}
	}
	return out
}
