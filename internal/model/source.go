package model

import (
	"fmt"
	"strconv"
	"strings"
)

// SourceKind names the kind of place a value came from.
type SourceKind string

const (
	// SourceKernelDefault: nobody set the value; it is what the kernel starts every network
	// namespace with.
	SourceKernelDefault SourceKind = "kernel-default"
	// SourceSysctlFile: a sysctl.d or sysctl.conf line sets it (File and Line say which).
	SourceSysctlFile SourceKind = "sysctl-file"
	// SourceRuntime: the live value differs from both the kernel default and every file: someone
	// wrote it at run time (sysctl -w, a container runtime, an orchestrator). It does not survive
	// a reboot unless that someone does it again.
	SourceRuntime SourceKind = "runtime"
	// SourceLive: read from the running system where no more precise origin can be told (for
	// example a value that has no kernel default, like a counter or a limit of a process).
	SourceLive SourceKind = "live"
	// SourceConfig: a server or proxy configuration file (File and Line say where).
	SourceConfig SourceKind = "config"
	// SourceCatalog: keeptune's catalog of middlebox and software defaults.
	SourceCatalog SourceKind = "catalog"
	// SourceChainFile: written in a chain file (keeptune.yaml; File and Line say where).
	SourceChainFile SourceKind = "chain-file"
	// SourceSocket: read back from a live socket.
	SourceSocket SourceKind = "socket"
	// SourceRuntimeDefault: the built-in default of a language runtime or library (Go's
	// 15 s/15 s/9, for example).
	SourceRuntimeDefault SourceKind = "runtime-default"
	// SourceProfile: a workload profile's target.
	SourceProfile SourceKind = "profile"
)

// Source says where a value came from, precisely enough for a person to go and change it.
type Source struct {
	Kind SourceKind `json:"kind"`
	// File and Line locate the value when it comes from a file (Line is 1-based, 0 when unknown).
	File string `json:"file,omitempty"`
	Line int    `json:"line,omitempty"`
	// Detail adds what the kind and location alone do not say ("/proc/1234/limits",
	// "Go 1.22 net.Dialer default").
	Detail string `json:"detail,omitempty"`
}

// String renders the source for people: "/etc/sysctl.d/99-tune.conf:3", "kernel default".
func (s Source) String() string {
	var out string
	switch s.Kind {
	case SourceKernelDefault:
		out = "kernel default"
	case SourceRuntime:
		out = "set at run time"
		if s.Detail == "" {
			out += " (no sysctl file sets it)"
		}
	case SourceRuntimeDefault:
		out = "runtime default"
	case SourceCatalog:
		// The detail is "entry: citation"; people read the entry name, `keeptune catalog NAME`
		// shows the citation (JSON carries all of it).
		name, _, _ := strings.Cut(s.Detail, ": ")
		return "catalog " + name
	case "":
		out = "unknown"
	default:
		out = string(s.Kind)
	}
	if s.File != "" {
		out = s.File
		if s.Line > 0 {
			out += ":" + strconv.Itoa(s.Line)
		}
	}
	if s.Detail != "" {
		out = fmt.Sprintf("%s (%s)", out, s.Detail)
	}
	return out
}

// Location is a place in a file that a finding points at.
type Location struct {
	File string `json:"file"`
	Line int    `json:"line,omitempty"`
	// Column is 1-based, 0 when the finding is about the whole line.
	Column int `json:"column,omitempty"`
}

func (l Location) String() string {
	out := l.File
	if l.Line > 0 {
		out += ":" + strconv.Itoa(l.Line)
		if l.Column > 0 {
			out += ":" + strconv.Itoa(l.Column)
		}
	}
	return out
}

// LocationOf returns the file location of a source, or nil when the value does not come from a
// file.
func LocationOf(s Source) *Location {
	if s.File == "" {
		return nil
	}
	return &Location{File: s.File, Line: s.Line}
}
