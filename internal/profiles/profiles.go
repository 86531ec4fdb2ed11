// Package profiles holds the workload profiles audits are judged against: the built-in ones
// (embedded from builtin/*.yaml, keeptune's choice of ranges, as hosting providers' tuning guides give them) and custom ones
// operators write in the same YAML format (docs/profiles.md).
package profiles

import (
	"embed"
	"fmt"
	"os"
	"path"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/keeptune/keeptune/internal/kernel"
	"github.com/keeptune/keeptune/internal/model"
	"github.com/keeptune/keeptune/internal/yamlx"
)

//go:embed builtin/*.yaml
var builtinFS embed.FS

// Default is the profile used when none is asked for.
const Default = "general"

// Kernel limits on the keepalive sysctls and socket options.
const (
	maxKeepSeconds = kernel.MaxKeepIdle
	maxKeepCount   = kernel.MaxKeepCnt
)

// Builtin returns the built-in profiles sorted by name.
func Builtin() []model.Profile {
	entries, err := builtinFS.ReadDir("builtin")
	if err != nil {
		panic(err) // embedded at build time: cannot fail
	}
	var out []model.Profile
	for _, e := range entries {
		name := path.Join("builtin", e.Name())
		data, err := builtinFS.ReadFile(name)
		if err != nil {
			panic(err)
		}
		p, err := Parse("internal/profiles/"+name, data)
		if err != nil {
			panic(fmt.Sprintf("built-in profile is invalid: %v", err)) // caught by tests
		}
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Names lists the built-in profile names.
func Names() []string {
	var names []string
	for _, p := range Builtin() {
		names = append(names, p.Name)
	}
	return names
}

// Resolve returns the built-in profile called nameOrFile, or reads it as a file when it names
// one (it contains a path separator or ends in .yaml/.yml). An unknown name gets a did-you-mean.
func Resolve(nameOrFile string) (model.Profile, error) {
	if nameOrFile == "" {
		nameOrFile = Default
	}
	if strings.ContainsRune(nameOrFile, '/') || strings.HasSuffix(nameOrFile, ".yaml") || strings.HasSuffix(nameOrFile, ".yml") {
		data, err := os.ReadFile(nameOrFile)
		if err != nil {
			return model.Profile{}, fmt.Errorf("read profile: %w", err)
		}
		return Parse(nameOrFile, data)
	}
	for _, p := range Builtin() {
		if p.Name == nameOrFile {
			return p, nil
		}
	}
	msg := fmt.Sprintf("unknown profile %q: expected one of %s or a YAML file", nameOrFile, strings.Join(Names(), ", "))
	if near := yamlx.Nearest(nameOrFile, Names()); near != "" {
		msg = fmt.Sprintf("unknown profile %q: did you mean %q? (built-in: %s, or a YAML file)", nameOrFile, near, strings.Join(Names(), ", "))
	}
	return model.Profile{}, fmt.Errorf("%s", msg)
}

// Parse reads a profile document. Every error names file:line:column and what was expected.
func Parse(file string, data []byte) (model.Profile, error) {
	root, err := yamlx.Parse(file, data)
	if err != nil {
		return model.Profile{}, err
	}
	p := model.Profile{Source: file}
	var haveKeepalive bool
	var detectionNode *yaml.Node
	err = yamlx.Mapping(file, root, []string{"name", "description", "source", "keepalive", "unacked"}, func(key string, k, v *yaml.Node) error {
		var err error
		switch key {
		case "name":
			p.Name, err = yamlx.String(file, v)
		case "description":
			p.Description, err = yamlx.String(file, v)
		case "source":
			p.Source, err = yamlx.String(file, v)
		case "keepalive":
			haveKeepalive = true
			detectionNode, err = parseKeepalive(file, v, &p)
		case "unacked":
			err = parseUnacked(file, v, &p)
		}
		return err
	})
	if err != nil {
		return model.Profile{}, err
	}
	if p.Name == "" {
		return model.Profile{}, yamlx.Errorf(file, root, "missing key \"name\": expected a profile name")
	}
	if !haveKeepalive {
		return model.Profile{}, yamlx.Errorf(file, root, "missing key \"keepalive\": expected idle, interval and probes ranges")
	}
	if p.MaxDetection == 0 {
		p.MaxDetection = kernel.DeadPeerDetection(p.Idle.Max, p.Interval.Max, p.Probes.Max, 0)
	} else if rec := p.RecommendedDetection(); rec > p.MaxDetection {
		return model.Profile{}, yamlx.Errorf(file, detectionNode, "max_detection %v is shorter than the detection time of the recommended values (%v)", p.MaxDetection, rec)
	}
	if p.MaxUnackedTimeout == 0 {
		p.MaxUnackedTimeout = kernel.UnackedTimeout(15) // no target: only report, never flag the default
		p.Retries2 = 15
	}
	return p, nil
}

func parseKeepalive(file string, n *yaml.Node, p *model.Profile) (*yaml.Node, error) {
	var detection *yaml.Node
	seen := map[string]bool{}
	err := yamlx.Mapping(file, n, []string{"idle", "interval", "probes", "max_detection"}, func(key string, k, v *yaml.Node) error {
		seen[key] = true
		var err error
		switch key {
		case "idle":
			p.Idle, err = durationRange(file, v)
		case "interval":
			p.Interval, err = durationRange(file, v)
		case "probes":
			p.Probes, err = intRange(file, v)
		case "max_detection":
			detection = v
			p.MaxDetection, err = yamlx.Duration(file, v)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	for _, k := range []string{"idle", "interval", "probes"} {
		if !seen[k] {
			return nil, yamlx.Errorf(file, n, "keepalive: missing key %q: expected {min: ..., max: ..., recommended: ...}", k)
		}
	}
	return detection, nil
}

func parseUnacked(file string, n *yaml.Node, p *model.Profile) error {
	var maxNode *yaml.Node
	err := yamlx.Mapping(file, n, []string{"max_timeout", "retries2"}, func(key string, k, v *yaml.Node) error {
		var err error
		switch key {
		case "max_timeout":
			maxNode = v
			p.MaxUnackedTimeout, err = yamlx.Duration(file, v)
		case "retries2":
			p.Retries2, err = yamlx.Int(file, v, 1, 15)
		}
		return err
	})
	if err != nil {
		return err
	}
	if p.MaxUnackedTimeout == 0 || p.Retries2 == 0 {
		return yamlx.Errorf(file, n, "unacked: expected both max_timeout (a duration) and retries2 (the tcp_retries2 value to propose)")
	}
	if got := kernel.UnackedTimeout(p.Retries2); got > p.MaxUnackedTimeout {
		return yamlx.Errorf(file, maxNode, "unacked: retries2 %d gives up after %v, longer than max_timeout %v: lower retries2 or raise max_timeout", p.Retries2, got, p.MaxUnackedTimeout)
	}
	return nil
}

func durationRange(file string, n *yaml.Node) (model.DurationRange, error) {
	var r model.DurationRange
	nodes := map[string]*yaml.Node{}
	err := yamlx.Mapping(file, n, []string{"min", "max", "recommended"}, func(key string, k, v *yaml.Node) error {
		d, err := yamlx.Duration(file, v)
		if err != nil {
			return err
		}
		if d%time.Second != 0 || d > maxKeepSeconds {
			return yamlx.Errorf(file, v, "expected whole seconds from 1s to %v (the kernel's keepalive unit and limit), found %s", maxKeepSeconds, v.Value)
		}
		nodes[key] = v
		switch key {
		case "min":
			r.Min = d
		case "max":
			r.Max = d
		case "recommended":
			r.Recommended = d
		}
		return nil
	})
	if err != nil {
		return r, err
	}
	if nodes["min"] == nil || nodes["max"] == nil {
		return r, yamlx.Errorf(file, n, "expected a range {min: ..., max: ..., recommended: ...} with min and max")
	}
	if r.Min > r.Max {
		return r, yamlx.Errorf(file, nodes["max"], "max %v is below min %v", r.Max, r.Min)
	}
	if nodes["recommended"] == nil {
		r.Recommended = r.Min
	} else if !r.Contains(r.Recommended) {
		return r, yamlx.Errorf(file, nodes["recommended"], "recommended %v is outside [%v, %v]", r.Recommended, r.Min, r.Max)
	}
	return r, nil
}

func intRange(file string, n *yaml.Node) (model.IntRange, error) {
	var r model.IntRange
	nodes := map[string]*yaml.Node{}
	err := yamlx.Mapping(file, n, []string{"min", "max", "recommended"}, func(key string, k, v *yaml.Node) error {
		x, err := yamlx.Int(file, v, 1, maxKeepCount)
		if err != nil {
			return err
		}
		nodes[key] = v
		switch key {
		case "min":
			r.Min = x
		case "max":
			r.Max = x
		case "recommended":
			r.Recommended = x
		}
		return nil
	})
	if err != nil {
		return r, err
	}
	if nodes["min"] == nil || nodes["max"] == nil {
		return r, yamlx.Errorf(file, n, "expected a range {min: ..., max: ..., recommended: ...} with min and max")
	}
	if r.Min > r.Max {
		return r, yamlx.Errorf(file, nodes["max"], "max %d is below min %d", r.Max, r.Min)
	}
	if nodes["recommended"] == nil {
		r.Recommended = r.Min
	} else if !r.Contains(r.Recommended) {
		return r, yamlx.Errorf(file, nodes["recommended"], "recommended %d is outside [%d, %d]", r.Recommended, r.Min, r.Max)
	}
	return r, nil
}
