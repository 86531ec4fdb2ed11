package configs

import (
	"io/fs"
	"strings"
	"testing"

	"github.com/keeptune/keeptune/internal/model"
)

type fakeParser struct{ name string }

func (f fakeParser) Format() string                       { return f.name }
func (f fakeParser) Detect(path string, head []byte) bool { return strings.HasSuffix(path, "."+f.name) }
func (f fakeParser) DefaultPaths() []string               { return nil }
func (f fakeParser) Parse(fsys fs.FS, path string) (*Config, error) {
	b, err := fs.ReadFile(fsys, path)
	if err != nil {
		return nil, err
	}
	return &Config{Format: f.name, File: "/" + path, Values: []Value{{Key: "content", Value: strings.TrimSpace(string(b))}},
		Downstream: &model.Side{}}, nil
}

func TestRegistryDetectAndRead(t *testing.T) {
	Register(fakeParser{"faketest"})
	defer delete(parsers, "faketest")
	if _, err := DetectFormat("/etc/x.conf", nil); err == nil || !strings.Contains(err.Error(), "faketest") {
		t.Errorf("undetectable file: %v", err)
	}
	p, err := DetectFormat("/etc/x.faketest", nil)
	if err != nil || p.Format() != "faketest" {
		t.Fatalf("detect: %v %v", p, err)
	}
	dir := t.TempDir()
	file := dir + "/a.faketest"
	if err := writeFile(file, "hello\n"); err != nil {
		t.Fatal(err)
	}
	c, err := ReadFile(file, "")
	if err != nil || c.Values[0].Value != "hello" || c.File != file {
		t.Fatalf("ReadFile = %+v, %v", c, err)
	}
	if _, err := ReadFile(file, "nosuch"); err == nil || !strings.Contains(err.Error(), `unknown format "nosuch"`) {
		t.Errorf("unknown format: %v", err)
	}
}
