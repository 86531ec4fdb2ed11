//go:build !linux

package exporter

import "github.com/keeptune/keeptune/internal/netns"

func readNamespace(procRoot string, n namespace, own bool) nsFacts {
	return nsFacts{namespace: n, errors: []readError{{"netns", netns.ErrUnsupported}}}
}
