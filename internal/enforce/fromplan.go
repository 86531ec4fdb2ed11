package enforce

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/keeptune/keeptune/internal/plan"
)

// The plan's keys for the kernel's keepalive defaults: the values a program that never sets
// keepalive would get if it honoured them. enforce puts them on its sockets directly.
const (
	planIdleKey   = "net.ipv4.tcp_keepalive_time"
	planIntvlKey  = "net.ipv4.tcp_keepalive_intvl"
	planProbesKey = "net.ipv4.tcp_keepalive_probes"
)

// ReadPlan reads a plan file (keeptune plan -o json).
func ReadPlan(file string) (*plan.Plan, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var p plan.Plan
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, fmt.Errorf("%s: not a keeptune plan: %w", file, err)
	}
	return &p, nil
}

// PlanValues are the keepalive targets a plan holds for one network namespace; a field is zero
// when the plan says nothing about it.
type PlanValues struct {
	Idle, Interval time.Duration
	Probes         int
	// Scope is the plan scope they were taken from.
	Scope string
}

// FromPlan takes the keepalive targets of the plan's scope for the network namespace netns
// (keeptune's own namespace is the plan's host scope).
func FromPlan(p *plan.Plan, netns, ownNetns uint64) (PlanValues, error) {
	scope := plan.Scope{Kind: plan.ScopeNetns, Netns: &plan.NetnsRef{Inode: netns}}
	if netns == ownNetns {
		scope = plan.Scope{Kind: plan.ScopeHost}
	}
	out := PlanValues{Scope: scope.ID()}
	found := false
	secs := func(key string) (int, bool, error) {
		v, ok := p.Target(scope, key)
		if !ok {
			return 0, false, nil
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return 0, false, fmt.Errorf("plan: %s in %s is %q, not a number", key, scope.ID(), v)
		}
		return n, true, nil
	}
	for _, f := range []struct {
		key string
		set func(int)
	}{
		{planIdleKey, func(n int) { out.Idle = time.Duration(n) * time.Second }},
		{planIntvlKey, func(n int) { out.Interval = time.Duration(n) * time.Second }},
		{planProbesKey, func(n int) { out.Probes = n }},
	} {
		n, ok, err := secs(f.key)
		if err != nil {
			return out, err
		}
		if ok {
			f.set(n)
			found = true
		}
	}
	if !found {
		return out, fmt.Errorf("the plan has no keepalive target for the cgroup's network namespace (%s)", scope.ID())
	}
	return out, nil
}
