package rules

import (
	"github.com/keeptune/keeptune/internal/configs"
	_ "github.com/keeptune/keeptune/internal/configs/all" // every format, with its rules
	"github.com/keeptune/keeptune/internal/model"
	"github.com/keeptune/keeptune/internal/plan"
)

// formatRules are the rules of every configuration format (KT800-KT889), which live beside
// their formats (internal/configs/FORMAT/rules.go), as engine rules: each runs on the input's
// configurations of its format.
func formatRules() []Rule {
	var out []Rule
	byFormat := configs.FormatRules()
	for _, format := range configs.RuleFormats() {
		for _, r := range byFormat[format] {
			out = append(out, formatRule(format, r))
		}
	}
	return out
}

func formatRule(format string, r configs.Rule) Rule {
	return Rule{
		ID: r.ID, Name: r.Name, Title: r.Title, Severity: r.Severity,
		What: r.What, Why: r.Why, Fix: r.Fix, Source: r.Source,
		Check: func(in *Input) []model.Finding {
			cs := configsOf(in, format)
			if len(cs) == 0 {
				return nil // most inputs hold one format or none: skip the host lookup
			}
			return r.Check(&configs.RuleInput{
				Configs:      cs,
				Profile:      in.Profile,
				Host:         configs.HostKeepalive(in.Snapshot),
				SysctlDropIn: plan.DropIn,
			})
		},
	}
}

// configsOf returns the configurations of one format among the input's.
func configsOf(in *Input, format string) []*configs.Config {
	var out []*configs.Config
	for _, c := range in.Configs {
		if c.Format == format {
			out = append(out, c)
		}
	}
	return out
}
