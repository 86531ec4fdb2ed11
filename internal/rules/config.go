package rules

import "github.com/keeptune/keeptune/internal/configs"

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
