package report

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/url"
	"path"
	"regexp"
	"slices"
	"strings"
	"unicode"

	"github.com/keeptune/keeptune/internal/model"
	"github.com/owenrumney/go-sarif/v3/pkg/report/v210/sarif"
)

// rootBaseID names the filesystem root the facts were read from. Files are written as URIs
// relative to it (etc/sysctl.d/99-tune.conf) with this base, which run.originalUriBaseIds
// resolves to file:/// (or to the injected root). SARIF prefers relative references with a base
// (§3.4.4); a code-scanning service resolves relative URIs against its checkout, which matches
// when a repository holds a root-filesystem tree and shows a file-less alert otherwise.
const rootBaseID = "ROOTFS"

// fingerprintKey names keeptune's partial fingerprint: a hash of rule, subject and namespace,
// stable across runs, so a finding without a file line is still one alert, not a new one per
// upload.
const fingerprintKey = "keeptuneFinding/v1"

// SARIF writes the report as a SARIF 2.1.0 log with one run.
//
// Every finding is a result at the rule's level (error, warning, note). A finding with a file
// location gets a physicalLocation with its line (for a chain finding often the chain file);
// every finding about a host also gets a logicalLocation naming the network namespace or the
// host it concerns, since most keepalive findings are about a kernel value that no file sets
// (GitHub code scanning needs a physical location to show an alert; other SARIF consumers
// accept the logical one). A finding about chain hops is not about the host: it gets a logical
// location naming its hops ("edge -> app") when it has no file location, and its hops in
// result.properties.hops. The fix goes into the message text and into result.properties.fix;
// it also becomes a SARIF fix (an artifactChange replacing the line) when it names the file and
// line to replace, the only case SARIF can express exactly. Facts that could not be read become
// tool execution notifications; the chain files read are listed in run.properties.chains.
func SARIF(w io.Writer, r Report) error {
	doc := sarifLog(r)
	var buf bytes.Buffer
	if err := doc.PrettyWrite(&buf); err != nil {
		return err
	}
	out := dropUnsetOffsets(buf.Bytes())
	out = append(out, '\n')
	_, err := w.Write(out)
	return err
}

// unsetOffset matches a region offset go-sarif writes as -1 when it was not given: SARIF's
// "absent" value, but noise that consumers have read as a real offset.
var unsetOffset = regexp.MustCompile(`^\s*"(byteOffset|charOffset|byteLength|charLength)": -1,?$`)

// dropUnsetOffsets removes those lines from go-sarif's indented output, keeping the order of
// every other key and fixing the comma of a line left last in its object.
func dropUnsetOffsets(doc []byte) []byte {
	lines := strings.Split(strings.TrimRight(string(doc), "\n"), "\n")
	var out []string
	for _, l := range lines {
		if unsetOffset.MatchString(l) {
			continue
		}
		t := strings.TrimSpace(l)
		if (strings.HasPrefix(t, "}") || strings.HasPrefix(t, "]")) && len(out) > 0 {
			out[len(out)-1] = strings.TrimSuffix(out[len(out)-1], ",")
		}
		out = append(out, l)
	}
	return []byte(strings.Join(out, "\n"))
}

func sarifLog(r Report) *sarif.Report {
	doc := sarif.NewReport()
	run := sarif.NewRun()
	doc.AddRun(run)

	driver := sarif.NewToolComponent().WithName(cmp.Or(r.Tool.Name, "keeptune"))
	if r.Tool.Version != "" {
		driver.WithVersion(r.Tool.Version)
	}
	if isAbsoluteURI(r.Tool.InformationURI) {
		driver.WithInformationURI(r.Tool.InformationURI)
	}
	run.WithTool(sarif.NewTool().WithDriver(driver))

	findings := sortedFindings(r.Findings)
	for _, ri := range sarifRules(r, findings) {
		rd := run.AddRule(ri.ID)
		if name := cmp.Or(ri.Name, ruleName(ri.Title)); name != "" {
			rd.WithName(name)
		}
		if ri.Title != "" {
			rd.WithDescription(ri.Title)
		}
		help := ri.Description
		if ri.Description != "" {
			rd.WithFullDescription(sarif.NewMultiformatMessageString().WithText(ri.Description))
		}
		if u := r.Tool.absoluteHelpURI(ri.HelpURI); u != "" {
			rd.WithHelpURI(u)
		} else if ri.HelpURI != "" {
			// Not expressible as helpUri (which must be absolute); still worth saying.
			help = strings.TrimSpace(help + "\n\nSee " + ri.HelpURI + ".")
		}
		if help != "" {
			rd.WithHelp(sarif.NewMultiformatMessageString().WithText(help))
		}
		rd.WithDefaultConfiguration(sarif.NewReportingConfiguration().WithLevel(sarifLevel(ri.Severity)))
	}

	uris := uriBuilder{root: hostRoot(r.Snapshot)}
	for _, f := range findings {
		addResult(r, run, &uris, f)
	}
	if uris.used {
		base := sarif.NewArtifactLocation().WithURI(uris.baseURI())
		run.WithOriginalUriBaseIds(map[string]sarif.ArtifactLocation{rootBaseID: *base})
	}

	inv := sarif.NewInvocation().WithExecutionSuccessful(true)
	for _, p := range r.problems() {
		msg := "could not read: " + p.What
		if p.Err != "" {
			msg += " (" + p.Err + ")"
		}
		if p.Needs != "" {
			msg += "; needs " + p.Needs
		}
		n := sarif.NewNotification().WithLevel(sarif.LevelWarning).WithMessage(sarif.NewTextMessage(msg))
		if l := p.Location; l != nil && l.File != "" {
			n.AddLocation(sarif.NewLocationWithPhysicalLocation(physicalLocation(&uris, *l)))
		}
		props := sarif.NewPropertyBag().Add("what", p.What).Add("error", p.Err)
		if p.Needs != "" {
			props.Add("needs", p.Needs)
		}
		inv.AddToolExecutionNotification(n.WithProperties(props))
	}
	run.AddInvocation(inv)

	props := sarif.NewPropertyBag()
	if r.Command != "" {
		props.Add("command", r.Command)
	}
	if r.Profile.Name != "" {
		props.Add("profile", r.Profile.Name)
	}
	if len(r.Options) > 0 {
		props.Add("options", r.Options)
	}
	if r.Snapshot != nil && r.Snapshot.Host.Hostname != "" {
		props.Add("host", r.Snapshot.Host.Hostname)
	}
	var chainFiles []string
	for _, c := range r.Chains {
		if c != nil && c.File != "" {
			chainFiles = append(chainFiles, c.File)
		}
	}
	if len(chainFiles) > 0 {
		props.Add("chains", chainFiles)
	}
	run.WithProperties(props)
	return doc
}

// sarifRules is every rule that ran, by ID, plus any rule a finding names that the caller did
// not list: a result must point at a descriptor for its level and help to show.
func sarifRules(r Report, findings []model.Finding) []RuleInfo {
	rules := slices.Clone(r.Rules)
	for _, f := range findings {
		if !slices.ContainsFunc(rules, func(ri RuleInfo) bool { return ri.ID == f.Rule }) {
			rules = append(rules, RuleInfo{ID: f.Rule, Severity: f.Severity})
		}
	}
	slices.SortStableFunc(rules, func(a, b RuleInfo) int { return strings.Compare(a.ID, b.ID) })
	return rules
}

// addResult adds the finding's result to the run (CreateResultForRule appends it and sets the
// rule index).
func addResult(r Report, run *sarif.Run, uris *uriBuilder, f model.Finding) {
	res := run.CreateResultForRule(f.Rule).WithLevel(sarifLevel(f.Severity))

	text := f.Message
	if f.Fix != nil {
		if s := fixParagraph(f.Fix); s != "" {
			text = strings.TrimSpace(text + "\n\n" + s)
		}
	}
	res.WithMessage(sarif.NewTextMessage(cmp.Or(text, f.Subject)))

	loc := sarif.NewLocation()
	hasLoc, hasFile := false, false
	if f.Location != nil && f.Location.File != "" {
		loc.WithPhysicalLocation(physicalLocation(uris, *f.Location))
		hasLoc, hasFile = true, true
	}
	switch {
	case len(f.Hops) > 0:
		// A chain finding concerns the hops, wherever keeptune ran: the host is no location
		// of it (a namespace still is, should a chain rule name one).
		if f.Namespace != "" {
			if ll := logicalLocation(r.Snapshot, f.Namespace); ll != nil {
				loc.AddLogicalLocation(ll)
				hasLoc = true
			}
		}
		if !hasFile {
			loc.AddLogicalLocation(hopsLogicalLocation(r.Chains, f))
			hasLoc = true
		}
	default:
		// A host finding about a value a sysctl file sets points at that file's line: GitHub
		// code scanning shows only results with a physical location.
		if !hasFile {
			if l := sysctlFileOf(f); l != nil {
				loc.WithPhysicalLocation(physicalLocation(uris, *l))
				hasLoc, hasFile = true, true
			}
		}
		if ll := logicalLocation(r.Snapshot, f.Namespace); ll != nil {
			loc.AddLogicalLocation(ll)
			hasLoc = true
		}
	}
	if hasLoc {
		res.AddLocation(loc)
	}

	if fx := f.Fix; fx != nil && fx.File != "" && fx.FileLine > 0 && fx.Line != "" {
		// A region with only startLine is the whole line without its line break (SARIF
		// §3.30.5), so inserting the text without a newline replaces exactly that line.
		change := sarif.NewArtifactChange().
			WithArtifactLocation(uris.location(fx.File)).
			AddReplacement(sarif.NewReplacement().
				WithDeletedRegion(sarif.NewRegion().WithStartLine(fx.FileLine)).
				WithInsertedContent(sarif.NewArtifactContent().WithText(fx.Line)))
		fixLines, _ := fixText(fx)
		res.AddFixe(sarif.NewFix().
			WithDescription(sarif.NewTextMessage(fixLines[0])).
			AddArtifactChange(change))
	}

	sum := sha256.Sum256([]byte(f.Rule + "\x00" + f.Subject + "\x00" + f.Namespace))
	res.WithPartialFingerprints(map[string]string{fingerprintKey: hex.EncodeToString(sum[:16])})

	props := sarif.NewPropertyBag().Add("subject", f.Subject).Add("severity", f.Severity.String())
	if f.Namespace != "" {
		props.Add("namespace", f.Namespace)
	}
	if len(f.Hops) > 0 {
		props.Add("hops", f.Hops)
	}
	if len(f.Evidence) > 0 {
		props.Add("evidence", f.Evidence)
	}
	if f.Fix != nil {
		props.Add("fix", f.Fix)
	}
	res.WithProperties(props)
}

// physicalLocation is a file, and the line and column when known (a region needs a line).
func physicalLocation(uris *uriBuilder, l model.Location) *sarif.PhysicalLocation {
	phys := sarif.NewPhysicalLocation().WithArtifactLocation(uris.location(l.File))
	if l.Line > 0 {
		region := sarif.NewRegion().WithStartLine(l.Line)
		if l.Column > 0 {
			region.WithStartColumn(l.Column)
		}
		phys.WithRegion(region)
	}
	return phys
}

// logicalLocation names where a finding lives when no file does: the network namespace on the
// host ("web-1/netns/cni-3f2a"), or the host itself. Nil when neither is known.
func logicalLocation(s *model.Snapshot, namespace string) *sarif.LogicalLocation {
	host := ""
	if s != nil {
		host = s.Host.Hostname
	}
	switch {
	case namespace != "":
		fqn := "netns/" + namespace
		if host != "" {
			fqn = host + "/" + fqn
		}
		return sarif.NewLogicalLocation().WithName(namespace).WithFullyQualifiedName(fqn).WithKind("namespace")
	case host != "":
		return sarif.NewLogicalLocation().WithName(host).WithFullyQualifiedName(host).WithKind("resource")
	}
	return nil
}

// hopsLogicalLocation names the chain hops a finding concerns: "edge -> app", qualified by the
// chain file when the finding can be placed in one of the run's chains ("keeptune.yaml#edge -> app").
func hopsLogicalLocation(chains []*model.Chain, f model.Finding) *sarif.LogicalLocation {
	name := chainSummary(f.Hops)
	fqn := name
	if c, _, _ := findingChain(chains, f); c != nil && c.File != "" {
		fqn = c.File + "#" + name
	}
	return sarif.NewLogicalLocation().WithName(name).WithFullyQualifiedName(fqn).WithKind("resource")
}

func sarifLevel(s model.Severity) string {
	switch s {
	case model.SeverityError:
		return sarif.LevelError
	case model.SeverityWarning:
		return sarif.LevelWarning
	case model.SeverityInfo:
		return sarif.LevelNote
	}
	return sarif.LevelNone
}

// ruleName turns a title into the identifier-like name SARIF wants for a rule
// ("Keepalive idle too long" -> "KeepaliveIdleTooLong").
func ruleName(title string) string {
	var b strings.Builder
	for _, w := range strings.FieldsFunc(title, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
		rs := []rune(w)
		rs[0] = unicode.ToUpper(rs[0])
		b.WriteString(string(rs))
	}
	return b.String()
}

func isAbsoluteURI(s string) bool {
	u, err := url.Parse(s)
	return err == nil && u.IsAbs()
}

func hostRoot(s *model.Snapshot) string {
	if s == nil || s.Host.Root == "" {
		return "/"
	}
	return path.Clean(s.Host.Root)
}

// uriBuilder turns file paths into artifact locations and remembers whether the root base was
// used, so that originalUriBaseIds appears only when something refers to it.
type uriBuilder struct {
	root string // cleaned, absolute; "/" for the real root
	used bool
}

func (b *uriBuilder) baseURI() string {
	p := b.root
	if !strings.HasSuffix(p, "/") {
		p += "/"
	}
	return (&url.URL{Scheme: "file", Path: p}).String()
}

// location makes an absolute path under the root relative to the root base; an absolute path
// outside it an absolute file URI (a base may only qualify a relative reference); and a
// relative path (a config named on the command line) a relative URI without a base, which a
// consumer resolves against its own working directory.
func (b *uriBuilder) location(p string) *sarif.ArtifactLocation {
	if !path.IsAbs(p) {
		return sarif.NewSimpleArtifactLocation(relativeURI(p))
	}
	p = path.Clean(p)
	rel, ok := "", false
	if b.root == "/" {
		rel, ok = strings.TrimPrefix(p, "/"), true
	} else if strings.HasPrefix(p, b.root+"/") {
		rel, ok = strings.TrimPrefix(p, b.root+"/"), true
	}
	if !ok || rel == "" {
		return sarif.NewSimpleArtifactLocation((&url.URL{Scheme: "file", Path: p}).String())
	}
	b.used = true
	return sarif.NewSimpleArtifactLocation(relativeURI(rel)).WithURIBaseID(rootBaseID)
}

// relativeURI percent-encodes a relative path as a URI reference. A colon in the first segment
// would read as a scheme, so such a path gets a leading "./" (RFC 3986 §4.2).
func relativeURI(p string) string {
	s := (&url.URL{Path: p}).EscapedPath()
	if first, _, _ := strings.Cut(s, "/"); strings.Contains(first, ":") {
		s = "./" + s
	}
	return s
}

// sysctlFileOf is the file line of the first evidence a sysctl file sets, nil when none does.
func sysctlFileOf(f model.Finding) *model.Location {
	for _, e := range f.Evidence {
		if e.Source.Kind == model.SourceSysctlFile && e.Source.File != "" {
			return &model.Location{File: e.Source.File, Line: e.Source.Line}
		}
	}
	return nil
}
