package testutil

import "testing/fstest"

// MapFS builds an in-memory file system from path -> content, for parser tests that read
// through an fs.FS (paths without a leading slash, as fs.FS wants them).
func MapFS(files map[string]string) fstest.MapFS {
	m := fstest.MapFS{}
	for k, v := range files {
		m[k] = &fstest.MapFile{Data: []byte(v)}
	}
	return m
}
