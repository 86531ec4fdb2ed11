// Package rules turns facts into findings. Each rule has a stable ID (KTnnn), a name, the highest
// severity it emits, and its documentation (what it checks, why it matters, how to fix it, the
// source of the facts it relies on). docs/rules.md is generated from these fields; a test keeps
// it in sync.
//
// Rule families: KT0xx facts keeptune could not read, KT1xx keepalive and sysctl files, KT2xx
// unacknowledged data, KT3xx connection tracking, KT4xx capacity, KT5xx network namespaces,
// KT6xx programs, KT7xx chains (compare hops with each other), KT8xx configuration files
// (KT80x-KT81x nginx, KT82x-KT83x HAProxy, KT84x-KT85x Apache, KT86x-KT88x other formats: these
// live beside their formats in internal/configs/FORMAT/rules.go, see formats.go; KT89x every
// format's syntax).
package rules

import (
	"fmt"
	"sort"
	"strings"

	"github.com/keeptune/keeptune/internal/configs"
	"github.com/keeptune/keeptune/internal/model"
	"github.com/keeptune/keeptune/internal/plan"
)

// Rule is one check.
type Rule struct {
	ID       string
	Name     string // kebab-case, usable instead of the ID in --enable/--disable
	Title    string
	Severity model.Severity // the highest severity the rule emits

	// Documentation, rendered into docs/rules.md.
	What, Why, Fix, Source string

	Check func(in *Input) []model.Finding
}

// Input is what rules read. Host rules need Snapshot, chain rules Chain; each stays silent
// without its part.
type Input struct {
	Snapshot *model.Snapshot
	Chain    *model.Chain
	// Configs are the configuration files read (lint FILE..., audit's discovered configs).
	Configs []*configs.Config
	// ConfigErrors are the configuration files that could not be read or that their server
	// would refuse (a *configs.ParseError names file:line); rule KT891 reports each.
	ConfigErrors []error
	Profile      model.Profile
	// ExpectConnections is the number of concurrent connections the host is meant to hold
	// (--expect-connections); 0 means unknown, and capacity rules that need it stay silent.
	ExpectConnections int
	// Plan is the one answer every fix is drawn from; made from the fields above when nil.
	Plan *plan.Plan
}

// Selection narrows which rules run. Entries are IDs or names; empty Enable means all.
type Selection struct {
	Enable  []string
	Disable []string
}

// All returns every rule, ordered by ID.
func All() []Rule {
	all := []Rule{
		factUnreadable, sysctlSyntax,
		keepaliveDetection, keepaliveTimeRange, keepaliveIntvlRange, keepaliveProbesRange,
		sysctlNotPersisted, sysctlConflict,
		unackedTimeout,
		conntrackBelowKeepalive,
		somaxconnLow, synBacklogBelowSomaxconn, fileMaxLow, nofileLow, conntrackTableFill,
		namespaceDefaults,
		goRuntimeKeepalive, closeWaitLeak, idleWithoutKeepalive, keepaliveOverride,
		chainPoolRace, chainMiddleboxForgets, chainProbeTooLate, chainTrackingTable,
		chainUserTimeout, chainGRPC, chainHTTP2Ping, chainSilentDrop,
	}
	all = append(all, formatRules()...)
	all = append(all, configSyntaxRules...)
	sort.Slice(all, func(i, j int) bool { return all[i].ID < all[j].ID })
	return all
}

// Select returns the rules a selection keeps, or an error naming an unknown ID or name.
func Select(sel Selection) ([]Rule, error) {
	all := All()
	known := map[string]bool{}
	for _, r := range all {
		known[strings.ToUpper(r.ID)] = true
		known[strings.ToUpper(r.Name)] = true
	}
	norm := func(list []string) (map[string]bool, error) {
		out := map[string]bool{}
		for _, s := range list {
			for _, part := range strings.Split(s, ",") {
				part = strings.ToUpper(strings.TrimSpace(part))
				if part == "" {
					continue
				}
				if !known[part] {
					return nil, fmt.Errorf("unknown rule %q: see `keeptune rules` for the list", part)
				}
				out[part] = true
			}
		}
		return out, nil
	}
	enable, err := norm(sel.Enable)
	if err != nil {
		return nil, err
	}
	disable, err := norm(sel.Disable)
	if err != nil {
		return nil, err
	}
	var out []Rule
	for _, r := range all {
		id, name := strings.ToUpper(r.ID), strings.ToUpper(r.Name)
		if len(enable) > 0 && !enable[id] && !enable[name] {
			continue
		}
		if disable[id] || disable[name] {
			continue
		}
		out = append(out, r)
	}
	return out, nil
}

// Run applies rules to the input and returns their findings, most severe first.
func Run(in *Input, rules []Rule) []model.Finding {
	if in.Snapshot == nil {
		in.Snapshot = &model.Snapshot{} // lint: no host facts, host rules find nothing
	}
	idle := idleConfigs(in.Configs)
	var out []model.Finding
	for _, r := range rules {
		for _, f := range r.Check(in) {
			f.Rule = r.ID
			if f.Location != nil {
				if origin, ok := idle[f.Location.File]; ok {
					f = notRunning(f, origin)
				}
			}
			out = append(out, f)
		}
	}
	Sort(out)
	return out
}

// idleConfigs maps every file of a configuration no server runs to its origin ("found at its
// default path, not running").
func idleConfigs(cs []*configs.Config) map[string]string {
	out := map[string]string{}
	for _, c := range cs {
		if c == nil || !strings.Contains(c.Origin, "not running") {
			continue
		}
		out[c.File] = c.Origin
		for _, f := range c.Files {
			out[f] = c.Origin
		}
	}
	return out
}

// notRunning adapts a finding about a file no server runs: there is nothing to reload, and the
// problem only bites once a server starts with it. The fix keeps the edit and drops the apply
// command, saying why.
func notRunning(f model.Finding, origin string) model.Finding {
	f.Message = strings.TrimSpace(f.Message) + " (This configuration was " + origin + ".)"
	if f.Fix != nil {
		fx := *f.Fix
		if fx.Apply != "" {
			fx.Apply = ""
		}
		fx.Note = strings.TrimSpace(fx.Note + " No server runs this file now: edit it, and the change takes effect when a server starts with it.")
		f.Fix = &fx
	}
	return f
}

// Sort orders findings the one way every output does (model.CompareFindings).
func Sort(fs []model.Finding) { model.SortFindings(fs) }
