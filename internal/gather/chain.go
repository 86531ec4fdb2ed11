package gather

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/keeptune/keeptune/internal/chain"
	"github.com/keeptune/keeptune/internal/configs"
	"github.com/keeptune/keeptune/internal/model"
)

// configReader reads configuration files under one root, each once: a file discovered on the
// host and named by a chain hop is parsed once and shared.
type configReader struct {
	root  string
	byAbs map[string]*configs.Config
	errs  map[string]error
	// read lists the configurations in the order they were first read.
	read []*configs.Config
}

func newConfigReader(root string) *configReader {
	return &configReader{root: root, byAbs: map[string]*configs.Config{}, errs: map[string]error{}}
}

// found reads a discovered file.
func (r *configReader) found(f configs.Found) (*configs.Config, error) {
	return r.once(f.Path, func() (*configs.Config, error) { return configs.ReadFound(r.root, f) })
}

// once returns the configuration (or the error) read for abs, reading it with read the first
// time.
func (r *configReader) once(abs string, read func() (*configs.Config, error)) (*configs.Config, error) {
	if c, ok := r.byAbs[abs]; ok {
		return c, nil
	}
	if err, ok := r.errs[abs]; ok {
		return nil, err
	}
	c, err := read()
	r.remember(abs, c, err)
	return c, err
}

// named reads a file a chain hop names (`config: PATH`, relative paths from the working
// directory, as the user wrote them), under the root, detecting its format.
func (r *configReader) named(hop, path string) (*configs.Config, error) {
	abs := path
	if !filepath.IsAbs(abs) {
		var err error
		if abs, err = filepath.Abs(path); err != nil {
			return nil, err
		}
	}
	c, err := r.once(abs, func() (*configs.Config, error) { return r.parse(abs) })
	if err != nil || c == nil {
		return c, err
	}
	if c.Origin == "" {
		c.Origin = "named by chain hop " + hop
	}
	if c.Hop == "" {
		c.Hop = hop
	}
	return c, nil
}

func (r *configReader) parse(abs string) (*configs.Config, error) {
	f, err := os.Open(filepath.Join(r.root, abs))
	if err != nil {
		return nil, err
	}
	head := make([]byte, configs.HeadSize)
	n, err := io.ReadFull(f, head)
	f.Close()
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		return nil, err
	}
	p, err := configs.DetectFormat(abs, head[:n])
	if err != nil {
		return nil, err
	}
	return p.Parse(os.DirFS(r.root), strings.TrimPrefix(abs, "/"))
}

func (r *configReader) remember(abs string, c *configs.Config, err error) {
	if err != nil {
		r.errs[abs] = err
		return
	}
	r.byAbs[abs] = c
	r.read = append(r.read, c)
}

// sources is what chain.Resolve reads hops' configuration files with.
func (r *configReader) sources(spec *chain.Spec, host *model.Namespace) chain.Sources {
	hopOf := map[string]string{}
	for _, h := range spec.Hops {
		if h.Hop.Config != "" {
			if _, ok := hopOf[h.Hop.Config]; !ok {
				hopOf[h.Hop.Config] = h.Hop.Name
			}
		}
	}
	return chain.Sources{
		Host: host,
		Config: func(path string) (*model.Side, *model.Side, error) {
			c, err := r.named(hopOf[path], path)
			if err != nil {
				return nil, nil, err
			}
			return c.ChainSides(configs.Selector{})
		},
		ConfigFormat: func(path string) string {
			if c, err := r.named(hopOf[path], path); err == nil {
				return c.Format
			}
			return ""
		},
		ConfigListener: func(path string, l chain.ListenerRef) (*model.Side, *model.Side, error) {
			c, err := r.named(hopOf[path], path)
			if err != nil {
				return nil, nil, err
			}
			return c.ChainSides(configs.Selector{Name: l.Name, Port: l.Port})
		},
	}
}

// parseChain reads and parses the chain file opts name or, with FindChain, the first one
// found. An implicit file that does not parse is returned as a Problem instead of an error.
func parseChain(opts Options) (*chain.Spec, string, *model.Problem, error) {
	file := opts.Chain
	explicit := file != ""
	if !explicit && opts.FindChain {
		file = chain.Find()
	}
	if file == "" {
		return nil, "", nil, nil
	}
	spec, err := readChain(file)
	if err == nil {
		return spec, file, nil, nil
	}
	if explicit {
		return nil, "", nil, &inputError{err}
	}
	return nil, "", implicitChainProblem(file, err), nil
}

// implicitChainProblem reports a chain file found (not named) that cannot be used. It has no
// Location: located Problems are sysctl.d lines (KT002); the message names file:line.
func implicitChainProblem(file string, err error) *model.Problem {
	return &model.Problem{What: "the chain file " + file + " (found, not named with --chain)",
		Err: err.Error() + "; the audit went on without it"}
}

func readChain(file string) (*chain.Spec, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read chain file: %w", err)
	}
	return chain.Parse(file, data)
}

// ChainOptions say how Chain resolves a chain file.
type ChainOptions struct {
	// Root is where the configurations hops name are read ("/" when empty).
	Root string
	// Host, when set, fills what local hops take from the host's sysctls.
	Host *model.Namespace
}

// Chain reads, parses and resolves one chain file: the configurations its hops name are read
// under opts.Root. Errors about the file match ErrInput and name file:line:column.
func Chain(ctx context.Context, file string, opts ChainOptions) (*model.Chain, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	spec, err := readChain(file)
	if err != nil {
		return nil, &inputError{err}
	}
	root := opts.Root
	if root == "" {
		root = "/"
	}
	c, err := spec.Resolve(newConfigReader(filepath.Clean(root)).sources(spec, opts.Host))
	if err != nil {
		return nil, &inputError{err}
	}
	return c, nil
}
