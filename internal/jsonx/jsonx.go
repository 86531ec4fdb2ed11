// Package jsonx is the one way keeptune writes JSON: every -o json document and every
// MarshalJSON body. encoding/json escapes "<", ">" and "&" as \u003c, \u003e and \u0026 by
// default, which only helps JSON embedded in HTML; keeptune's messages and fixes hold shell lines
// and comparisons ("keepalive idle 4s < NAT timeout 7s", "a && b", "->") that must read as
// written. An encoder cannot undo the escaping in what a MarshalJSON method returns, so those
// methods marshal through Marshal too.
package jsonx

import (
	"bytes"
	"encoding/json"
	"io"
)

// NewEncoder returns the encoder of a -o json document: indented by two spaces, nothing escaped
// for HTML.
func NewEncoder(w io.Writer) *json.Encoder {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc
}

// Marshal is json.Marshal without HTML escaping, for MarshalJSON methods.
func Marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}
