package exporter

import (
	"fmt"
	"path/filepath"
	"time"

	"github.com/keeptune/keeptune/internal/apply"
	"github.com/keeptune/keeptune/internal/sockets"
)

// Options configure the exporter; zero fields take the Defaults' values.
type Options struct {
	// ProcRoot is the proc file system ("/proc"; in a container with the host's mounted
	// elsewhere, that path).
	ProcRoot string
	// AllNetns exports every network namespace in use (needs root: setns needs CAP_SYS_ADMIN,
	// other users' processes CAP_SYS_PTRACE). Without it, keeptune's own namespace.
	AllNetns bool
	// Ports and Processes always keep their own label value (they still count towards
	// MaxSeries); TopPorts and TopProcesses more are chosen by socket count each scrape.
	Ports        []uint16
	Processes    []string
	TopPorts     int
	TopProcesses int
	// MaxSeries is the hard cap on keeptune_ series per scrape.
	MaxSeries int
	// Thresholds decide the CLOSE_WAIT and idle flags of sockets.
	Thresholds sockets.Thresholds
	// AuditInterval is how often the audit runs (0: the default; negative: never).
	AuditInterval time.Duration
	// Profile is the audit's workload profile (name or file).
	Profile string
	// Chain is the audit's chain file; empty looks for one where `keeptune audit` does.
	Chain string
	// ScrapeTimeout bounds one scrape's socket walk.
	ScrapeTimeout time.Duration
	// Root is where the host's file system is ("/", or its mount point in a container): the
	// files apply wrote are read under it for drift.
	Root string
	// JournalDir is keeptune apply's state directory, read (never locked) for drift; by
	// default Root/var/lib/keeptune.
	JournalDir string
}

// Defaults are the options `keeptune exporter` starts with. With them a scrape has at most
// MaxSeries keeptune_ series, whatever the number of sockets.
var Defaults = Options{
	ProcRoot:      "/proc",
	TopPorts:      20,
	TopProcesses:  20,
	MaxSeries:     2000,
	AuditInterval: 5 * time.Minute,
	ScrapeTimeout: 20 * time.Second,
	Root:          "/",
}

// withDefaults fills zero fields and checks the rest.
func (o Options) withDefaults() (Options, error) {
	d := Defaults
	if o.ProcRoot == "" {
		o.ProcRoot = d.ProcRoot
	}
	if o.TopPorts == 0 {
		o.TopPorts = d.TopPorts
	}
	if o.TopProcesses == 0 {
		o.TopProcesses = d.TopProcesses
	}
	if o.MaxSeries == 0 {
		o.MaxSeries = d.MaxSeries
	}
	if o.AuditInterval == 0 {
		o.AuditInterval = d.AuditInterval
	}
	if o.Root == "" {
		o.Root = d.Root
	}
	if o.JournalDir == "" {
		o.JournalDir = filepath.Join(o.Root, apply.DefaultStateDir)
	}
	if o.ScrapeTimeout == 0 {
		o.ScrapeTimeout = d.ScrapeTimeout
	}
	switch {
	case o.TopPorts < 0 || o.TopProcesses < 0:
		return o, fmt.Errorf("top ports and processes must be positive, got %d and %d", o.TopPorts, o.TopProcesses)
	case o.MaxSeries < minSeries:
		return o, fmt.Errorf("max series %d is below %d, the exporter's own series and one namespace's", o.MaxSeries, minSeries)
	}
	return o, nil
}
