// Package kubernetes reads Kubernetes manifests for the TCP keepalive a pod's network namespace
// gives its sockets: spec.securityContext.sysctls of Pods and of the pod templates of
// Deployments, StatefulSets, DaemonSets, ReplicaSets, Jobs and CronJobs, in multi-document YAML
// (and List kinds), pure over an fs.FS, every value with its file:line.
//
// A pod gets a network namespace of its own, and a new namespace starts with the kernel's
// defaults for net.ipv4.tcp_keepalive_time/intvl/probes (7200 s, 75 s, 9), not with the host's
// tuning: so a pod that does not set them in securityContext.sysctls has the kernel defaults,
// reported as such. These three sysctls are "safe" (allowed without kubelet flags) since
// Kubernetes 1.29. A pod with hostNetwork: true shares the host's namespace (its values are the
// host's, unknown here) and may not set net.* sysctls at all.
//
// The sysctls apply to every socket in the pod that has SO_KEEPALIVE; whether a program turns
// it on is the program's business, so Enabled stays unknown. Both sides report the same values.
// A file with several workloads reports the first on its sides; the kubernetes rules look at
// each.
package kubernetes

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/keeptune/keeptune/internal/configs"
	"github.com/keeptune/keeptune/internal/kernel"
	"github.com/keeptune/keeptune/internal/model"
)

func init() { configs.Register(Parser{}) }

// Parser is the kubernetes format for the configs registry.
type Parser struct{}

// Format implements configs.Parser.
func (Parser) Format() string { return "kubernetes" }

// DefaultPaths implements configs.Parser: manifests have no usual place on a host.
func (Parser) DefaultPaths() []string { return nil }

var (
	apiVersionRe = regexp.MustCompile(`(?m)(^|[\s{,])"?apiVersion"?\s*:`)
	kindRe       = regexp.MustCompile(`(?m)(^|[\s{,])"?kind"?\s*:`)
)

// Detect implements configs.Parser: a YAML or JSON file with apiVersion and kind.
func (Parser) Detect(p string, head []byte) bool {
	switch path.Ext(p) {
	case ".yaml", ".yml", ".json":
	default:
		return false
	}
	return apiVersionRe.Match(head) && kindRe.Match(head)
}

// ParseError is the error every format returns: file, line, what is wrong.
type ParseError = configs.ParseError

// Sysctl is one entry of securityContext.sysctls.
type Sysctl struct {
	Name, Value string
	Line        int
}

// Workload is a pod or a pod template.
type Workload struct {
	Kind, Name, Namespace string
	// Line is where the object starts (its kind: line); SpecLine where its pod spec is.
	Line, SpecLine int
	// SecurityContextLine is where spec.securityContext is, 0 without one.
	SecurityContextLine int
	HostNetwork         bool
	HostNetworkLine     int
	Sysctls             []Sysctl
}

// Label names the workload: "Deployment web".
func (w *Workload) Label() string { return w.Kind + " " + w.Name }

// Sysctl returns the entry for a key, nil when the pod does not set it.
func (w *Workload) Sysctl(key string) *Sysctl {
	for i := range w.Sysctls {
		if w.Sysctls[i].Name == key {
			return &w.Sysctls[i]
		}
	}
	return nil
}

// Config is what the manifests say, for the kubernetes rules.
type Config struct {
	File      string
	Workloads []*Workload
}

// KeepaliveKeys are the sysctls that set TCP keepalive.
var KeepaliveKeys = []string{model.KeyKeepaliveTime, model.KeyKeepaliveIntvl, model.KeyKeepaliveProbes}

// Kernel defaults for a new network namespace (include/net/tcp.h TCP_KEEPALIVE_TIME,
// TCP_KEEPALIVE_INTVL, TCP_KEEPALIVE_PROBES; net/ipv4/tcp_ipv4.c tcp_sk_init).
const (
	KernelIdle     = kernel.DefaultKeepIdle
	KernelInterval = kernel.DefaultKeepIntvl
	KernelProbes   = kernel.DefaultKeepCnt
)

// Parse implements configs.Parser.
func (Parser) Parse(fsys fs.FS, p string) (*configs.Config, error) {
	c, err := Parse(fsys, p)
	if err != nil {
		return nil, err
	}
	return c.Configs(), nil
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// Parse reads the manifests at p (inside fsys).
func Parse(fsys fs.FS, p string) (*Config, error) {
	p = path.Clean(strings.TrimPrefix(p, "/"))
	file := "/" + p
	data, err := fs.ReadFile(fsys, p)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	c := &Config{File: file}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc yaml.Node
		err := decode(dec, &doc)
		if err == io.EOF {
			break
		}
		if err != nil {
			if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
				n, _ := strconv.Atoi(m[1])
				return nil, &ParseError{File: file, Line: n, Msg: "invalid YAML: " + m[2]}
			}
			return nil, fmt.Errorf("%s: invalid YAML: %s", file, strings.TrimPrefix(err.Error(), "yaml: "))
		}
		if len(doc.Content) == 0 {
			continue
		}
		if err := c.object(file, resolve(doc.Content[0]), 0); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// decode guards against a panic in the YAML library on hostile input (yaml.v3 had such bugs):
// it becomes an error.
func decode(dec *yaml.Decoder, n *yaml.Node) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("yaml: %v", r)
		}
	}()
	return dec.Decode(n)
}

func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 10; i++ {
		n = n.Alias
	}
	return n
}

// get returns the value of a key in a mapping, and the key node.
func get(n *yaml.Node, key string) (val, k *yaml.Node) {
	n = resolve(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return nil, nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return resolve(n.Content[i+1]), n.Content[i]
		}
	}
	return nil, nil
}

func scalar(n *yaml.Node, key string) string {
	v, _ := get(n, key)
	if v != nil && v.Kind == yaml.ScalarNode {
		return v.Value
	}
	return ""
}

// podSpecPath says where each kind keeps its pod spec.
var podSpecPath = map[string][]string{
	"Pod":                   {"spec"},
	"PodTemplate":           {"template", "spec"},
	"Deployment":            {"spec", "template", "spec"},
	"StatefulSet":           {"spec", "template", "spec"},
	"DaemonSet":             {"spec", "template", "spec"},
	"ReplicaSet":            {"spec", "template", "spec"},
	"ReplicationController": {"spec", "template", "spec"},
	"Job":                   {"spec", "template", "spec"},
	"CronJob":               {"spec", "jobTemplate", "spec", "template", "spec"},
}

func (c *Config) object(file string, n *yaml.Node, depth int) error {
	if n == nil || n.Kind != yaml.MappingNode || depth > 5 {
		return nil
	}
	kind := scalar(n, "kind")
	if strings.HasSuffix(kind, "List") {
		items, _ := get(n, "items")
		if items != nil && items.Kind == yaml.SequenceNode {
			for _, it := range items.Content {
				if err := c.object(file, resolve(it), depth+1); err != nil {
					return err
				}
			}
		}
		return nil
	}
	steps, ok := podSpecPath[kind]
	if !ok {
		return nil
	}
	meta, _ := get(n, "metadata")
	_, kindKey := get(n, "kind")
	w := &Workload{Kind: kind, Name: scalar(meta, "name"), Namespace: scalar(meta, "namespace"), Line: kindKey.Line}
	spec, key := n, (*yaml.Node)(nil)
	for _, s := range steps {
		if spec, key = get(spec, s); spec == nil {
			return nil // no pod spec (a partial manifest): nothing to say
		}
	}
	w.SpecLine = key.Line
	bad := func(n *yaml.Node, format string, args ...any) error {
		return &ParseError{File: file, Line: n.Line, Msg: w.Label() + ": " + fmt.Sprintf(format, args...)}
	}
	if hn, hk := get(spec, "hostNetwork"); hn != nil {
		if hn.Kind != yaml.ScalarNode || (hn.Value != "true" && hn.Value != "false") {
			return bad(hn, "hostNetwork: expected true or false")
		}
		w.HostNetwork, w.HostNetworkLine = hn.Value == "true", hk.Line
	}
	sc, sck := get(spec, "securityContext")
	if sc != nil {
		w.SecurityContextLine = sck.Line
		sys, _ := get(sc, "sysctls")
		if sys != nil {
			if sys.Kind != yaml.SequenceNode {
				return bad(sys, "securityContext.sysctls: expected a list of {name, value}")
			}
			for _, it := range sys.Content {
				it = resolve(it)
				name, _ := get(it, "name")
				value, _ := get(it, "value")
				if name == nil || name.Kind != yaml.ScalarNode || name.Value == "" {
					return bad(it, "sysctls: expected an entry with a name")
				}
				if value == nil || value.Kind != yaml.ScalarNode {
					return bad(it, "sysctl %s: expected a value", name.Value)
				}
				if value.Tag != "!!str" {
					return bad(value, "sysctl %s: the value must be a string: write value: \"%s\"", name.Value, value.Value)
				}
				s := Sysctl{Name: strings.ReplaceAll(name.Value, "/", "."), Value: value.Value, Line: name.Line}
				for _, k := range KeepaliveKeys {
					if s.Name == k {
						if v, err := strconv.Atoi(strings.TrimSpace(s.Value)); err != nil || v < 1 {
							return bad(value, "sysctl %s: expected a whole number above 0, found %q", s.Name, s.Value)
						}
					}
				}
				w.Sysctls = append(w.Sysctls, s)
			}
		}
	}
	c.Workloads = append(c.Workloads, w)
	return nil
}

// Keepalive is the TCP keepalive of a workload's sockets.
func (c *Config) Keepalive(w *Workload) model.KeepaliveSettings {
	var k model.KeepaliveSettings
	at := func(line int, detail string) model.Source {
		return model.Source{Kind: model.SourceConfig, File: c.File, Line: line, Detail: detail}
	}
	k.Enabled.Source = at(w.SpecLine, "each program decides whether its sockets use keepalive")
	if w.HostNetwork {
		note := at(w.HostNetworkLine, "hostNetwork: the host's %s")
		k.Idle.Source, k.Interval.Source, k.Count.Source = note, note, note
		k.Idle.Source.Detail = fmt.Sprintf(note.Detail, model.KeyKeepaliveTime)
		k.Interval.Source.Detail = fmt.Sprintf(note.Detail, model.KeyKeepaliveIntvl)
		k.Count.Source.Detail = fmt.Sprintf(note.Detail, model.KeyKeepaliveProbes)
		return k
	}
	kernel := func(key string) model.Source {
		return model.Source{Kind: model.SourceKernelDefault, Detail: w.Label() + " does not set " + key + ": its network namespace starts with the kernel default"}
	}
	secs := func(key string, fallback time.Duration) model.Setting[time.Duration] {
		if s := w.Sysctl(key); s != nil {
			v, _ := strconv.Atoi(strings.TrimSpace(s.Value))
			return model.KnownSetting(time.Duration(v)*time.Second, at(s.Line, ""))
		}
		return model.KnownSetting(fallback, kernel(key))
	}
	k.Idle = secs(model.KeyKeepaliveTime, KernelIdle)
	k.Interval = secs(model.KeyKeepaliveIntvl, KernelInterval)
	if s := w.Sysctl(model.KeyKeepaliveProbes); s != nil {
		v, _ := strconv.Atoi(strings.TrimSpace(s.Value))
		k.Count = model.KnownSetting(v, at(s.Line, ""))
	} else {
		k.Count = model.KnownSetting(KernelProbes, kernel(model.KeyKeepaliveProbes))
	}
	return k
}

// Configs returns the format-neutral view: the first workload's keepalive on both sides.
func (c *Config) Configs() *configs.Config {
	out := &configs.Config{Format: "kubernetes", File: c.File, Files: []string{c.File}, Values: []configs.Value{}, Detail: c}
	for _, w := range c.Workloads {
		for _, s := range w.Sysctls {
			out.Values = append(out.Values, configs.Value{Key: s.Name, Value: s.Value, Block: w.Label(), Location: model.Location{File: c.File, Line: s.Line}})
		}
		if w.HostNetwork {
			out.Values = append(out.Values, configs.Value{Key: "hostNetwork", Value: "true", Block: w.Label(), Location: model.Location{File: c.File, Line: w.HostNetworkLine}})
		}
	}
	if len(c.Workloads) > 0 {
		k := c.Keepalive(c.Workloads[0])
		out.Downstream = &model.Side{TCP: k}
		out.Upstream = &model.Side{TCP: k}
	}
	return out
}
