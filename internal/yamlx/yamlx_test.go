package yamlx

import (
	"gopkg.in/yaml.v3"
	"strings"
	"testing"
	"time"
)

func TestParseDuration(t *testing.T) {
	cases := []struct {
		in      string
		want    time.Duration
		wantErr string
	}{
		{"90s", 90 * time.Second, ""},
		{"5m", 5 * time.Minute, ""},
		{"1h30m", 90 * time.Minute, ""},
		{"250ms", 250 * time.Millisecond, ""},
		{"5d", 5 * 24 * time.Hour, ""},
		{"300", 0, "bare number 300"},
		{"0s", 0, "greater than zero"},
		{"-5s", 0, "greater than zero"},
		{"fast", 0, "expected a duration"},
		{"", 0, "empty value"},
	}
	for _, c := range cases {
		got, err := ParseDuration(c.in)
		if c.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("ParseDuration(%q) error = %v, want one containing %q", c.in, err, c.wantErr)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
	}
}

func TestMappingUnknownKeySuggests(t *testing.T) {
	root, err := Parse("p.yaml", []byte("name: x\nintreval: 5s\n"))
	if err != nil {
		t.Fatal(err)
	}
	err = Mapping("p.yaml", root, []string{"name", "interval", "idle"}, func(string, *yaml.Node, *yaml.Node) error { return nil })
	if err == nil || !strings.Contains(err.Error(), `p.yaml:2:1: unknown key "intreval": did you mean "interval"?`) {
		t.Fatalf("error = %v", err)
	}
}

func TestParseErrorsCarryFileAndLine(t *testing.T) {
	_, err := Parse("bad.yaml", []byte("a: 1\nb: [1, 2\n"))
	if err == nil || !strings.HasPrefix(err.Error(), "bad.yaml:") {
		t.Fatalf("error = %v, want it to start with bad.yaml:", err)
	}
	_, err = Parse("list.yaml", []byte("- a\n- b\n"))
	if err == nil || !strings.Contains(err.Error(), "list.yaml:1:1: expected a mapping") {
		t.Fatalf("error = %v", err)
	}
}

func TestIntRange(t *testing.T) {
	root, _ := Parse("f", []byte("a: 200\nb: x\nc: 5\n"))
	if _, err := Int("f", root.Content[1], 1, 127); err == nil || !strings.Contains(err.Error(), "f:1:4: expected a whole number from 1 to 127, found 200") {
		t.Errorf("out of range: %v", err)
	}
	if _, err := Int("f", root.Content[3], 1, 127); err == nil {
		t.Errorf("non-number accepted")
	}
	if v, err := Int("f", root.Content[5], 1, 127); err != nil || v != 5 {
		t.Errorf("Int = %d, %v", v, err)
	}
}

func TestNearest(t *testing.T) {
	if got := Nearest("api-gatway", []string{"general", "api-gateway", "db-proxy"}); got != "api-gateway" {
		t.Errorf("Nearest = %q", got)
	}
	if got := Nearest("zzzzzz", []string{"general", "api-gateway"}); got != "" {
		t.Errorf("Nearest = %q, want none", got)
	}
}
