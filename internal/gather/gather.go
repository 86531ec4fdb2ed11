// Package gather reads the world once for every verb that judges it: host facts (sysctls of
// every namespace in scope, limits, conntrack, processes), the live socket table of every
// namespace in scope, the server configurations found on the host and named by chain hops,
// and the chain file, resolved against them. Whatever cannot be read becomes a model.Problem
// with its Source; only bad input the user named (an explicit --chain that does not parse) or a
// host with nothing to read is an error.
//
// The CLI verbs are flags -> gather -> rules -> report -> exit code; the exporter gathers on
// every scrape interval, so a gather is cancellable (ctx) and keeps no state between calls.
package gather

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/keeptune/keeptune/internal/configs"
	_ "github.com/keeptune/keeptune/internal/configs/all" // every configuration format
	"github.com/keeptune/keeptune/internal/enforce"
	"github.com/keeptune/keeptune/internal/host"
	"github.com/keeptune/keeptune/internal/model"
	"github.com/keeptune/keeptune/internal/procfd"
	"github.com/keeptune/keeptune/internal/sockets"
)

// Options say what Host reads.
type Options struct {
	// Root is "/" for the live system (the default when empty), or a directory holding a copy of
	// a host's proc/ and etc/ for an offline audit. Every file is read under it: sysctl.d,
	// /proc, discovered configurations and the configurations chain hops name.
	Root string
	// AllNetns reads the sysctls and the sockets of every network namespace in use (root).
	AllNetns bool
	// Chain is a chain file the user named: it must read and parse, or Host fails with an
	// error matching ErrInput.
	Chain string
	// FindChain looks for a chain file at chain.DefaultPaths when Chain is empty. A file found
	// that way which does not parse becomes a Problem (with its file:line) and the gather goes on.
	FindChain bool
	// NoConfigs skips discovering server configurations (chain hops' config: files are still read).
	NoConfigs bool
	// NoSockets skips the live socket table.
	NoSockets bool
	// DeepSockets reads a sample of each process's sockets' keepalive options (pidfd_getfd;
	// needs root). Host turns it on by itself when running as root.
	DeepSockets bool
	// Thresholds tune the socket table's derived flags (zero: sockets.DefaultThresholds).
	Thresholds sockets.Thresholds
}

// World is what one gather read.
type World struct {
	Snapshot *model.Snapshot
	// Chain is the resolved chain (nil without a chain file), and ChainFile the file it came from.
	Chain     *model.Chain
	ChainFile string
	// Configs are the server configurations read: those discovered on the host and those chain
	// hops name, each file once.
	Configs []*configs.Config
}

// ErrInput is matched by errors about input the user named (an explicit chain file that
// cannot be read or does not parse): exit code 2, not a runtime failure.
var ErrInput = errors.New("bad input")

type inputError struct{ err error }

func (e *inputError) Error() string   { return e.err.Error() }
func (e *inputError) Unwrap() []error { return []error{e.err, ErrInput} }

// Host gathers the facts of the host at opts.Root.
func Host(ctx context.Context, opts Options) (*World, error) {
	root := opts.Root
	if root == "" {
		root = "/"
	}
	root = filepath.Clean(root)
	live := root == "/"
	w := &World{}

	// The chain file first: an explicit one that does not parse ends the run before any work.
	spec, file, chainProblem, err := parseChain(opts)
	if err != nil {
		return nil, err
	}

	// On the live system: one walk of the descriptor tables and one dump of the socket tables
	// serve both the host facts (which process holds how many TCP sockets, where it listens)
	// and the socket summary (CLOSE_WAIT leaks, idle connections, programs' own keepalive).
	var (
		probs    []model.Problem
		stats    []model.SocketStats
		hostOpts = host.Options{Root: root, AllNetns: opts.AllNetns}
	)
	if live {
		idx, err := procfd.Walk(ctx, procfd.Query{ProcRoot: "/proc", AllProcesses: true})
		switch {
		case ctx.Err() != nil:
			return nil, ctx.Err()
		case err != nil:
			probs = append(probs, model.Problem{What: "the processes' descriptors (/proc/PID/fd)", Err: err.Error()})
		default:
			hostOpts.Procs = idx
		}
		if !opts.NoSockets {
			netns := ""
			if opts.AllNetns {
				netns = "all"
			}
			held := map[int]*sockets.Held{}
			sopts := sockets.SummaryOptions{Netns: netns, Deep: opts.DeepSockets || os.Geteuid() == 0,
				Thresholds: opts.Thresholds, Owners: idx}
			if idx != nil {
				sopts.Held = held
			}
			stats, err = sockets.SummarizeIn(ctx, sopts)
			switch {
			case ctx.Err() != nil:
				return nil, ctx.Err()
			case err != nil:
				probs = append(probs, model.Problem{What: "the live TCP sockets (sock_diag)", Err: err.Error()})
			case idx != nil:
				hostOpts.TCPByPID = make(map[int]host.ProcessTCP, len(held))
				for pid, h := range held {
					hostOpts.TCPByPID[pid] = host.ProcessTCP{Sockets: h.Sockets, Listening: h.Listening}
				}
			}
			enforce.Annotate(stats) // cgroups, and the keeptune enforce policy covering each process
		}
	}

	snap, err := host.Collect(ctx, hostOpts)
	if err != nil {
		return nil, err
	}
	w.Snapshot = snap
	problem := func(p model.Problem) { snap.Problems = append(snap.Problems, p) }
	if chainProblem != nil {
		problem(*chainProblem)
	}
	for _, p := range probs {
		problem(p)
	}
	if live && !opts.NoSockets {
		snap.Sockets = stats
	}

	// Configurations: those discovered on the host, then those chain hops name; each file once.
	cr := newConfigReader(root)
	if !opts.NoConfigs {
		for _, f := range configs.Discover(root, snap.Processes) {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			if _, err := cr.found(f); err != nil {
				problem(model.Problem{What: fmt.Sprintf("%s configuration %s (%s)", f.Format, f.Path, f.From), Err: err.Error()})
			}
		}
	}
	if spec != nil {
		here := currentNamespace(snap)
		c, err := spec.Resolve(cr.sources(spec, &here))
		switch {
		case err == nil:
			w.Chain, w.ChainFile = c, file
		case opts.Chain != "":
			return nil, &inputError{err}
		default:
			problem(*implicitChainProblem(file, err))
		}
	}
	w.Configs = cr.read
	return w, nil
}

// currentNamespace is the namespace keeptune runs in: the one local hops live in.
func currentNamespace(s *model.Snapshot) model.Namespace {
	for _, ns := range s.Namespaces {
		if ns.Current {
			return ns
		}
	}
	return model.Namespace{}
}
