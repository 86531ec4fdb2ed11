package cli

import (
	"encoding/json"
	"io"
)

// jsonOut is the encoder every verb's -o json writes with: indented, and without HTML
// escaping, so "->" and "&" stay as written (plan -o json had "-\u003e" where audit -o json,
// through internal/report, had "->").
func jsonOut(w io.Writer) *json.Encoder {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc
}
