package cli

import (
	"go/build"
	"strings"
	"testing"
)

// The verbs read the world through the gather stage only (flags -> gather -> rules -> report):
// a fact source imported by internal/cli is a second way of reading it, and the two drift.
func TestCLIReadsFactsThroughGather(t *testing.T) {
	pkg, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	const mod = "github.com/keeptune/keeptune/internal/"
	sources := []string{"host", "sockets", "catalog", "configs", "procfd"}
	for _, imp := range pkg.Imports {
		rel, ok := strings.CutPrefix(imp, mod)
		if !ok {
			continue
		}
		for _, s := range sources {
			if rel == s || strings.HasPrefix(rel, s+"/") {
				t.Errorf("internal/cli imports %s: read it through internal/gather instead", imp)
			}
		}
	}
	if !strings.Contains(strings.Join(pkg.Imports, " "), mod+"gather") {
		t.Error("internal/cli does not import internal/gather: the test looks at the wrong package")
	}
}
