package jsonx

import (
	"bytes"
	"testing"
)

func TestNothingEscapedForHTML(t *testing.T) {
	v := map[string]string{"rule": "idle 4s < NAT 7s && a -> b"}
	b, err := Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"rule":"idle 4s < NAT 7s && a -> b"}`; string(b) != want {
		t.Errorf("Marshal = %s, want %s", b, want)
	}
	var buf bytes.Buffer
	if err := NewEncoder(&buf).Encode(v); err != nil {
		t.Fatal(err)
	}
	if want := "{\n  \"rule\": \"idle 4s < NAT 7s && a -> b\"\n}\n"; buf.String() != want {
		t.Errorf("NewEncoder wrote %q, want %q", buf.String(), want)
	}
}
