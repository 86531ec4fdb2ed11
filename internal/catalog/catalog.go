// Package catalog is keeptune's built-in knowledge of the hops operators cannot configure from
// the host: the idle timeouts and expiry behaviour of NAT gateways, load balancers and firewalls,
// and the keepalive and idle defaults of common servers, proxies and client libraries.
//
// The data lives in catalog.yaml (embedded) so that adding or correcting an entry is a data
// change with a reviewable source, not a code change. Every entry names the document it comes
// from and says whether its values were checked against that primary source; a value the source
// does not state stays unknown, because a made-up default would let a rule report a problem
// (or hide one) on no evidence. The file is parsed and validated when the package initialises:
// a bad entry fails every test and the build of anything that imports the package, never a
// user's run halfway through.
package catalog

import (
	_ "embed"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/keeptune/keeptune/internal/model"
)

// File is the path of the data file as it appears in error messages and in the docs.
const File = "internal/catalog/catalog.yaml"

//go:embed catalog.yaml
var data []byte

// Kind says what an entry describes.
type Kind string

const (
	// KindMiddlebox: a NAT, firewall, load balancer or proxy service run by someone else,
	// described by what it does to idle flows.
	KindMiddlebox Kind = "middlebox"
	// KindSoftware: a server, proxy, runtime or client library, described by the defaults of
	// the connections it accepts (downstream) and opens (upstream).
	KindSoftware Kind = "software"
)

// ExpiryClose is model.ExpiryClose: a layer 7 balancer closes its idle connections itself (FIN).
const ExpiryClose = model.ExpiryClose

// Range is a middlebox's idle timeout: the default and, where the source states them, the
// bounds it can be configured within. Min and Max are zero when not stated; Min == Max ==
// Default means the value is fixed.
type Range struct {
	Default time.Duration
	Min     time.Duration
	Max     time.Duration
}

// Fixed reports whether the source says the timeout cannot be changed.
func (r Range) Fixed() bool { return r.Min != 0 && r.Min == r.Default && r.Max == r.Default }

// Entry is one catalog entry. Fields a source does not state are zero (nil for pointers, ""
// for enums, 0 for Layer); the converters turn them into unknown model settings.
type Entry struct {
	// Name is the kebab-case key a chain file uses (catalog: aws-alb).
	Name    string
	Aliases []string
	Title   string
	Kind    Kind

	// Middlebox fields.
	Layer              int    // 4 or 7
	IdleTimeout        *Range // nil when the source does not state it
	RefreshedBy        model.Refresh
	OnExpiry           model.Expiry
	HTTP2PingRefreshes *bool
	// IdleTimeoutBothSides is true for a layer-7 balancer whose one idle timeout governs the
	// connections from its clients and those to its targets alike (AWS ALB and CLB): a chain
	// hop's idle_timeout then sets both sides. Other balancers keep the sides apart (GCP's
	// external ALB: 610 s towards clients, 600 s towards backends); a chain sets each with
	// downstream: and upstream:.
	IdleTimeoutBothSides bool

	// Source is a citation a person can follow (document and URL, or repository file).
	Source string
	// Verified is true when every value the entry states was checked against Source.
	Verified bool
	// Notes says what matters operationally and what the values do not capture.
	Notes string
	// Line is where the entry starts in catalog.yaml.
	Line int

	down, up *side
}

// HasDownstream and HasUpstream report whether the entry's data spells out that side. (A layer 7
// middlebox has none written down, yet Downstream derives one from its idle timeout.)
func (e Entry) HasDownstream() bool { return e.down != nil }
func (e Entry) HasUpstream() bool   { return e.up != nil }

var (
	entries []Entry
	byKey   map[string]int // lower-cased name or alias → index in entries
)

func init() {
	list, err := Parse(File, data)
	if err != nil {
		// The file is embedded at build time; the tests parse it, so this cannot reach a user.
		panic(fmt.Sprintf("built-in catalog is invalid: %v", err))
	}
	entries = list
	byKey = make(map[string]int, 2*len(list))
	for i, e := range list {
		byKey[strings.ToLower(e.Name)] = i
		for _, a := range e.Aliases {
			byKey[strings.ToLower(a)] = i
		}
	}
}

// All returns every entry, sorted by name. The slice and its entries are copies: callers may
// change them freely.
func All() []Entry {
	out := make([]Entry, len(entries))
	for i, e := range entries {
		out[i] = e.clone()
	}
	return out
}

// Lookup finds an entry by name or alias, ignoring case.
func Lookup(name string) (Entry, bool) {
	i, ok := byKey[strings.ToLower(strings.TrimSpace(name))]
	if !ok {
		return Entry{}, false
	}
	return entries[i].clone(), true
}

// Names returns the entry names, sorted.
func Names() []string {
	out := make([]string, len(entries))
	for i, e := range entries {
		out[i] = e.Name
	}
	return out
}

// Keys returns every name and alias, sorted: what Lookup accepts, for did-you-mean hints.
func Keys() []string {
	out := make([]string, 0, len(byKey))
	for _, e := range entries {
		out = append(out, e.Name)
		out = append(out, e.Aliases...)
	}
	sort.Strings(out)
	return out
}

func (e Entry) clone() Entry {
	e.Aliases = slices.Clone(e.Aliases)
	if e.IdleTimeout != nil {
		r := *e.IdleTimeout
		e.IdleTimeout = &r
	}
	if e.HTTP2PingRefreshes != nil {
		b := *e.HTTP2PingRefreshes
		e.HTTP2PingRefreshes = &b
	}
	// The sides are never mutated after parsing and only read through the converters, which
	// build fresh model values: sharing them is safe.
	return e
}
