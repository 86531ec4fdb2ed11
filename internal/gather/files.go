package gather

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/keeptune/keeptune/internal/configs"
	"github.com/keeptune/keeptune/internal/model"
)

// FilesOptions say how Files reads the files it is given.
type FilesOptions struct {
	// Format is "chain", one of ConfigFormats, or "" to detect each file's format.
	Format string
	// Root is a configuration repository standing for the servers' /: files, their includes
	// and the configurations chain hops name are read under it, nothing outside it; "" reads
	// the files as named. Prefix is the servers' configuration directory for fragments (nginx's
	// conf prefix, Apache's ServerRoot).
	Root, Prefix string
	// Env is the servers' environment for ${KEY} (given at all, it is the whole environment);
	// Defines are the names Apache httpd gets with -D.
	Env     map[string]string
	Defines []string
	// ServerVersions are [FORMAT=]VERSION: the versions version-dependent keywords are judged
	// against. A format without one takes the installed server's (not under Root).
	ServerVersions []string
}

// FileSet is what Files read.
type FileSet struct {
	// Chains are the chain files, resolved (the configurations their hops name read under Root).
	Chains []*model.Chain
	// Configs are the configuration files, each with its includes; a file found in a directory
	// argument that another file includes is read as part of that file only.
	Configs []*configs.Config
	// Errors are the files that could not be read or that their server would refuse, each
	// naming file:line; the other files were still read.
	Errors []error
	// Ignored lists the files of directory arguments that were not read, with the reason.
	Ignored []string
}

// ConfigFormats are the configuration formats Files reads (besides chain files).
func ConfigFormats() []string { return configs.Formats() }

// Files reads chain files and server configurations without touching the host: a path that is
// a file is read as given (its format detected unless opts.Format says), a directory as the
// files in it whose format is detected (hidden ones and version-control directories left out).
// It is lint's read, through the same readers audit's gather uses. A file that cannot be read
// or parsed is in FileSet.Errors; an error (matching ErrInput) means the arguments or options
// themselves are wrong: a path that does not exist, an unknown format, a malformed version.
func Files(ctx context.Context, paths []string, opts FilesOptions) (*FileSet, error) {
	versions, err := parseServerVersions(opts.ServerVersions)
	if err != nil {
		return nil, &inputError{err}
	}
	targets, ignored, err := fileTargets(paths, opts.Format)
	if err != nil {
		return nil, &inputError{err}
	}
	set := &FileSet{Ignored: ignored}
	var fromDir []bool
	for _, t := range targets {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if t.chain {
			c, err := Chain(ctx, t.path, ChainOptions{Root: opts.Root})
			if err != nil {
				set.Errors = append(set.Errors, err)
				continue
			}
			set.Chains = append(set.Chains, c)
			continue
		}
		// The version is resolved once the format is known (a detected format too): given by
		// format or for all, else the installed server's (not for a repository under --root).
		v := configs.Vars{Env: opts.Env, Defines: opts.Defines, Prefix: opts.Prefix,
			Versions: versions, AskInstalled: opts.Root == ""}
		var c *configs.Config
		if opts.Root != "" {
			c, err = configs.ReadTree(opts.Root, t.path, t.format, v)
		} else {
			c, err = configs.ReadFileVars(t.path, t.format, v)
		}
		if err != nil {
			set.Errors = append(set.Errors, err)
			continue
		}
		set.Configs = append(set.Configs, c)
		fromDir = append(fromDir, t.fromDir)
	}
	set.Configs = withoutIncluded(set.Configs, fromDir)
	return set, nil
}

// fileTarget is one file Files reads.
type fileTarget struct {
	path, format string
	chain        bool
	// fromDir: found in a directory argument (dropped when another file of the run includes it).
	fromDir bool
}

// fileTargets expands the arguments: a file as given, a directory as the files in it (hidden
// ones and version-control directories left out) whose format is detected. ignored lists the
// files of directories that were not read, with the reason.
func fileTargets(args []string, format string) (targets []fileTarget, ignored []string, err error) {
	for _, a := range args {
		st, err := os.Stat(a)
		if err != nil {
			return nil, nil, err
		}
		if !st.IsDir() {
			isChain, err := looksLikeChain(a, format)
			if err != nil {
				return nil, nil, err
			}
			f := format
			if isChain {
				f = ""
			}
			targets = append(targets, fileTarget{path: a, format: f, chain: isChain})
			continue
		}
		err = filepath.WalkDir(a, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if p != a && strings.HasPrefix(d.Name(), ".") {
				if d.IsDir() {
					return filepath.SkipDir
				}
				ignored = append(ignored, p+" (hidden)")
				return nil
			}
			if d.IsDir() || !d.Type().IsRegular() {
				return nil
			}
			isChain, err := looksLikeChain(p, format)
			if err != nil {
				return err
			}
			if isChain {
				targets = append(targets, fileTarget{path: p, chain: true, fromDir: true})
				return nil
			}
			f := format
			if f == "" {
				head, err := configs.ReadHead(p)
				if err != nil {
					return err
				}
				parser, err := configs.DetectFormat(p, head)
				if err != nil {
					ignored = append(ignored, p+" (not a format keeptune recognises)")
					return nil
				}
				f = parser.Format()
			}
			targets = append(targets, fileTarget{path: p, format: f, fromDir: true})
			return nil
		})
		if err != nil {
			return nil, nil, err
		}
	}
	return targets, ignored, nil
}

// looksLikeChain decides whether a file is a chain file: format "chain", or a YAML file with a
// top-level chain: key.
func looksLikeChain(path, format string) (bool, error) {
	switch format {
	case "chain":
		return true, nil
	case "":
	default:
		if _, ok := configs.Lookup(format); !ok {
			return false, fmt.Errorf("unknown --format %q: expected chain or one of %s", format, strings.Join(configs.Formats(), ", "))
		}
		return false, nil
	}
	if ext := filepath.Ext(path); ext != ".yaml" && ext != ".yml" {
		return false, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return false, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "chain:") {
			return true, nil
		}
	}
	return false, nil
}

// withoutIncluded drops the files found in directories that another file of the run includes:
// they were read, in their place, as part of it.
func withoutIncluded(cfgs []*configs.Config, fromDir []bool) []*configs.Config {
	included := map[string]bool{}
	for _, c := range cfgs {
		for _, f := range c.Files {
			if f != c.File {
				included[f] = true
			}
		}
	}
	var out []*configs.Config
	for i, c := range cfgs {
		if fromDir[i] && included[c.File] {
			continue
		}
		out = append(out, c)
	}
	return out
}

// serverVersions are the ServerVersions: by format, or for every format ("").
type serverVersions map[string]string

var versionPattern = regexp.MustCompile(`^\d+(\.\d+)*`)

func parseServerVersions(list []string) (serverVersions, error) {
	out := serverVersions{}
	for _, s := range list {
		f, v, ok := strings.Cut(s, "=")
		if !ok {
			f, v = "", s
		}
		if f != "" {
			if _, known := configs.Lookup(f); !known {
				return nil, fmt.Errorf("invalid --server-version %q: unknown format %q (expected one of %s)", s, f, strings.Join(configs.Formats(), ", "))
			}
		}
		if !versionPattern.MatchString(v) {
			return nil, fmt.Errorf("invalid --server-version %q: expected [FORMAT=]VERSION such as nginx=1.25.3", s)
		}
		out[f] = v
	}
	return out, nil
}
