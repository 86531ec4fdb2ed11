package catalog

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestNoCitationOfUnpublishedNotes keeps the product from citing material its users do not
// have: the team's working notes are not shipped, so docs and code must cite a primary source
// (vendor documentation, RFC, kernel source, man page, issue thread) or say a claim is
// unverified. The patterns are split so that this file does not match itself.
func TestNoCitationOfUnpublishedNotes(t *testing.T) {
	patterns := []string{"shared/" + "research", "research " + "notes"}
	for _, dir := range []string{"../../docs", "../../internal"} {
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() {
				return err // symlinks in test fixtures may point nowhere
			}
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			for i, line := range strings.Split(string(data), "\n") {
				for _, p := range patterns {
					if strings.Contains(line, p) {
						t.Errorf("%s:%d cites %q: cite a primary source or say the claim is unverified", path, i+1, p)
					}
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}
