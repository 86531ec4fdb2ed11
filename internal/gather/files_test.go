package gather

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keeptune/keeptune/internal/testutil"
)

// repo writes files into a fresh directory standing for a configuration repository.
func repo(t *testing.T, files map[string]string) string {
	return filepath.Join(testutil.FakeRoot(t, testutil.Host{Files: prefixed("repo/", files)}), "repo")
}

func prefixed(dir string, files map[string]string) map[string]string {
	out := map[string]string{}
	for name, body := range files {
		out[dir+name] = body
	}
	return out
}

// Files reads a directory the way lint names it: chain files and detected configurations, an
// included file once (as part of its includer), the rest listed as ignored, and a file its
// parser refuses as an error of its own while the others are still read.
func TestFilesDirectory(t *testing.T) {
	dir := repo(t, map[string]string{
		"nginx.conf":         "events {}\nhttp {\n  keepalive_timeout 30s;\n  include conf.d/*.conf;\n}\n",
		"conf.d/site.conf":   "server { listen 8080; }\n",
		"haproxy.cfg":        "defaults\n  timeout client 30s\n  timeout client\n",
		"keeptune.yaml":      "chain:\n  - {name: clients, type: client}\n  - {name: edge, catalog: aws-alb}\n  - {name: app, type: server, runtime: node}\n",
		"notes.txt":          "nothing keeptune reads\n",
		".hidden/nginx.conf": "events {}\n",
		".nginx.conf.swp":    "events {}\n",
	})
	set, err := Files(context.Background(), []string{dir}, FilesOptions{Prefix: dir})
	if err != nil {
		t.Fatal(err)
	}
	if len(set.Chains) != 1 || len(set.Chains[0].Hops) != 3 {
		t.Errorf("chains = %+v, want keeptune.yaml with 3 hops", set.Chains)
	}
	var files []string
	for _, c := range set.Configs {
		files = append(files, filepath.Base(c.File))
	}
	if strings.Join(files, " ") != "nginx.conf" {
		t.Errorf("configs = %v, want nginx.conf only (conf.d/site.conf is read as its include; haproxy.cfg is refused)", files)
	}
	if len(set.Errors) != 1 || !strings.Contains(set.Errors[0].Error(), "haproxy.cfg") {
		t.Errorf("errors = %v, want haproxy.cfg's", set.Errors)
	}
	ignored := strings.Join(set.Ignored, "\n")
	if !strings.Contains(ignored, "notes.txt (not a format keeptune recognises)") || !strings.Contains(ignored, ".nginx.conf.swp (hidden)") || strings.Contains(ignored, ".hidden/") {
		t.Errorf("ignored = %q", ignored)
	}
}

func TestFilesBadInput(t *testing.T) {
	dir := repo(t, map[string]string{"nginx.conf": "events {}\n"})
	for _, c := range []struct {
		paths []string
		opts  FilesOptions
		want  string
	}{
		{[]string{filepath.Join(dir, "missing.conf")}, FilesOptions{}, "no such file"},
		{[]string{dir}, FilesOptions{Format: "nginxx"}, `unknown --format "nginxx"`},
		{[]string{dir}, FilesOptions{ServerVersions: []string{"nginx=latest"}}, "expected [FORMAT=]VERSION"},
		{[]string{dir}, FilesOptions{ServerVersions: []string{"ngnix=1.25"}}, `unknown format "ngnix"`},
	} {
		_, err := Files(context.Background(), c.paths, c.opts)
		if err == nil || !errors.Is(err, ErrInput) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v %+v: error %v, want ErrInput and %q", c.paths, c.opts, err, c.want)
		}
	}
}
