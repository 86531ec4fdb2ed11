package testutil

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"

	"github.com/owenrumney/go-sarif/v3/pkg/report/v210/sarif"
)

// ValidateSARIF checks a SARIF log against the official SARIF 2.1.0 JSON schema, which go-sarif
// embeds and checks with gojsonschema (Report.Validate). Validate checks the parsed struct,
// marshalled again; so it first makes sure that struct is exactly the document written (nothing
// dropped or added in the reading), or the schema check would be of something else.
func ValidateSARIF(data []byte) error {
	doc, err := sarif.FromBytes(data, sarif.WithStrictValidation())
	if err != nil {
		return fmt.Errorf("not a SARIF log: %w", err)
	}
	var written, read any
	if err := json.Unmarshal(data, &written); err != nil {
		return err
	}
	again, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(again, &read); err != nil {
		return err
	}
	// keeptune leaves out the region offsets go-sarif would write as -1 ("absent"); reading
	// them back go-sarif fills in 0. Those, and only those, do not count as a difference.
	dropAdded(written, read, map[string]bool{"byteOffset": true, "charOffset": true, "byteLength": true, "charLength": true})
	if !reflect.DeepEqual(written, read) {
		return fmt.Errorf("go-sarif does not read back the document as written:\n%s", firstDifference(indent(written), indent(read)))
	}
	return doc.Validate()
}

func indent(v any) string {
	b, _ := json.MarshalIndent(v, "", "  ")
	return string(b)
}

// firstDifference shows the first line where two texts part, with two lines of context.
func firstDifference(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(w) || i < len(g); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			from := max(i-2, 0)
			ctx := strings.Join(w[from:i], "\n")
			return fmt.Sprintf("line %d:\n%s\n- %s\n+ %s", i+1, ctx, wl, gl)
		}
	}
	return "(no difference)"
}

// dropAdded removes from read the keys named in names that written does not have, at the same
// place in the tree.
func dropAdded(written, read any, names map[string]bool) {
	switch w := written.(type) {
	case map[string]any:
		r, ok := read.(map[string]any)
		if !ok {
			return
		}
		for k := range r {
			if _, in := w[k]; !in && names[k] {
				delete(r, k)
			}
		}
		for k, v := range w {
			dropAdded(v, r[k], names)
		}
	case []any:
		r, ok := read.([]any)
		if !ok {
			return
		}
		for i := range w {
			if i < len(r) {
				dropAdded(w[i], r[i], names)
			}
		}
	}
}
