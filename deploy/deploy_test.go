// Package deploy_test checks the deployment files: the Prometheus rules with promtool, the
// PrometheusRule copy, the DaemonSet's privileges and the dashboard's queries.
package deploy_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/keeptune/keeptune/internal/exporter"
)

var update = flag.Bool("update", false, "rewrite kubernetes/prometheusrule.yaml from prometheus/keeptune-rules.yml")

func promtool(t *testing.T, args ...string) {
	t.Helper()
	p, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool not installed (Debian package prometheus; .ci/run installs it)")
	}
	cmd := exec.Command(p, args...)
	cmd.Dir = "prometheus"
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	t.Logf("promtool %s:\n%s", strings.Join(args, " "), out)
}

func TestRulesCheck(t *testing.T) { promtool(t, "check", "rules", "keeptune-rules.yml") }

func TestRulesUnitTests(t *testing.T) { promtool(t, "test", "rules", "keeptune-rules_test.yml") }

// The Prometheus Operator's copy of the rules holds exactly the rules file's groups.
func TestPrometheusRuleInStep(t *testing.T) {
	src, err := os.ReadFile("prometheus/keeptune-rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	var rules struct {
		Groups []any `yaml:"groups"`
	}
	if err := yaml.Unmarshal(src, &rules); err != nil {
		t.Fatal(err)
	}
	doc := map[string]any{
		"apiVersion": "monitoring.coreos.com/v1",
		"kind":       "PrometheusRule",
		"metadata": map[string]any{"name": "keeptune", "namespace": "keeptune",
			"labels": map[string]any{"app.kubernetes.io/name": "keeptune-exporter"}},
		"spec": map[string]any{"groups": rules.Groups},
	}
	var b bytes.Buffer
	b.WriteString("# Generated from deploy/prometheus/keeptune-rules.yml by `go test ./deploy -update`: edit that file.\n")
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		t.Fatal(err)
	}
	const path = "kubernetes/prometheusrule.yaml"
	if *update {
		if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	have, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(have, b.Bytes()) {
		t.Fatalf("%s is not in step with prometheus/keeptune-rules.yml: run go test ./deploy -update", path)
	}
}

// The DaemonSet asks for exactly the privileges its comment explains, mounts the host's /proc
// and /sys read-only, and points the exporter at them.
func TestDaemonSetPrivileges(t *testing.T) {
	b, err := os.ReadFile("kubernetes/daemonset.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var ds struct {
		Spec struct {
			Template struct {
				Spec struct {
					HostPID     bool `yaml:"hostPID"`
					HostNetwork bool `yaml:"hostNetwork"`
					Containers  []struct {
						Args            []string `yaml:"args"`
						SecurityContext struct {
							Privileged             bool `yaml:"privileged"`
							ReadOnlyRootFilesystem bool `yaml:"readOnlyRootFilesystem"`
							Capabilities           struct {
								Drop []string `yaml:"drop"`
								Add  []string `yaml:"add"`
							} `yaml:"capabilities"`
						} `yaml:"securityContext"`
						Ports []struct {
							ContainerPort int `yaml:"containerPort"`
						} `yaml:"ports"`
						VolumeMounts []struct {
							Name      string `yaml:"name"`
							MountPath string `yaml:"mountPath"`
							ReadOnly  bool   `yaml:"readOnly"`
						} `yaml:"volumeMounts"`
					} `yaml:"containers"`
				} `yaml:"spec"`
			} `yaml:"template"`
		} `yaml:"spec"`
	}
	if err := yaml.Unmarshal(b, &ds); err != nil {
		t.Fatal(err)
	}
	pod := ds.Spec.Template.Spec
	if !pod.HostPID || !pod.HostNetwork || len(pod.Containers) != 1 {
		t.Fatalf("want hostPID, hostNetwork and one container: %+v", pod)
	}
	c := pod.Containers[0]
	sc := c.SecurityContext
	add := slices.Sorted(slices.Values(sc.Capabilities.Add))
	if sc.Privileged || !sc.ReadOnlyRootFilesystem || !slices.Equal(sc.Capabilities.Drop, []string{"ALL"}) ||
		!slices.Equal(add, []string{"DAC_READ_SEARCH", "SYS_ADMIN", "SYS_PTRACE"}) {
		t.Errorf("security context %+v: want unprivileged, read-only root, drop ALL, add DAC_READ_SEARCH SYS_ADMIN SYS_PTRACE", sc)
	}
	mounts := map[string]bool{}
	for _, m := range c.VolumeMounts {
		if !m.ReadOnly {
			t.Errorf("mount %s (%s) is writable", m.Name, m.MountPath)
		}
		mounts[m.MountPath] = true
	}
	for _, want := range []string{"/host/proc", "/host/sys", "/run/netns", "/host/etc", "/host/var/lib/keeptune"} {
		if !mounts[want] {
			t.Errorf("no mount at %s", want)
		}
	}
	if !slices.Contains(c.Args, "--proc=/host/proc") || !slices.Contains(c.Args, "--all-netns") || !slices.Contains(c.Args, "--root=/host") || c.Args[0] != "exporter" {
		t.Errorf("args %v: want exporter --all-netns --proc=/host/proc", c.Args)
	}
	_, port, _ := strings.Cut(exporter.DefaultListen, ":")
	if len(c.Ports) != 1 || port != strconv.Itoa(c.Ports[0].ContainerPort) {
		t.Errorf("ports %+v: want the exporter's default %s", c.Ports, port)
	}
}

var metricName = regexp.MustCompile(`keeptune[a-z0-9_:]*`)

// known is every name a query may use: the exporter's metrics (histograms with their _bucket,
// _sum and _count series) and the recording rules.
func known(t *testing.T) map[string]bool {
	names := map[string]bool{}
	for _, n := range exporter.MetricNames() {
		for _, suffix := range []string{"", "_bucket", "_sum", "_count"} {
			names[n+suffix] = true
		}
	}
	src, err := os.ReadFile("prometheus/keeptune-rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`record: (\S+)`).FindAllStringSubmatch(string(src), -1) {
		names[m[1]] = true
	}
	return names
}

// Every keeptune name in the dashboard and in the rules' expressions exists: a renamed metric
// breaks this test rather than a panel.
func TestQueriesUseKnownMetrics(t *testing.T) {
	names := known(t)
	b, err := os.ReadFile("grafana/keeptune-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("dashboard: %v", err)
	}
	if len(dash.Panels) == 0 {
		t.Fatal("dashboard has no panels")
	}
	check := func(where, expr string) {
		for _, n := range metricName.FindAllString(expr, -1) {
			// Regex matchers over names (keeptune_tcp_aborts_on_.*_total) are prefixes here.
			if strings.HasSuffix(n, "_") || names[n] {
				continue
			}
			t.Errorf("%s: unknown metric %s in %q", where, n, expr)
		}
	}
	for _, p := range dash.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			check("dashboard panel "+p.Title, tg.Expr)
		}
	}
	src, err := os.ReadFile("prometheus/keeptune-rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	var rules struct {
		Groups []struct {
			Rules []struct {
				Alert, Record, Expr string
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(src, &rules); err != nil {
		t.Fatal(err)
	}
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			check("rule "+r.Alert+r.Record, r.Expr)
		}
	}
}
