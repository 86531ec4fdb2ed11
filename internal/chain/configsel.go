package chain

import (
	"strconv"

	"gopkg.in/yaml.v3"

	"github.com/keeptune/keeptune/internal/yamlx"
)

// ListenerRef is the listener a hop's config: key names in a file with several (nginx server
// blocks, HAProxy frontends, Apache virtual hosts): by name (server_name, ServerName, section
// name) and/or port. Zero: the file's own choice.
type ListenerRef struct {
	Name string
	Port int
}

// configKeys are the keys of the mapping form of config:; server, listener, frontend, backend
// and virtualhost are synonyms (each format calls its listeners its own way).
var configKeys = []string{"file", "server", "listener", "frontend", "backend", "virtualhost", "port"}

// configKey reads config: as a path, or as {file: PATH, server: NAME, port: N}.
func configKey(file string, n *yaml.Node) (path string, sel ListenerRef, err error) {
	if n.Kind != yaml.MappingNode {
		path, err = yamlx.String(file, n)
		return path, sel, err
	}
	err = yamlx.Mapping(file, n, configKeys, func(key string, _, v *yaml.Node) error {
		switch key {
		case "file":
			path, err = yamlx.String(file, v)
		case "port":
			var s string
			if s, err = yamlx.String(file, v); err == nil {
				if sel.Port, err = strconv.Atoi(s); err != nil || sel.Port < 1 || sel.Port > 65535 {
					return yamlx.Errorf(file, v, "port: expected a port number (1-65535)")
				}
			}
		default:
			if sel.Name != "" {
				return yamlx.Errorf(file, v, "%s: the listener is already named %q: give one name (and/or port:)", key, sel.Name)
			}
			sel.Name, err = yamlx.String(file, v)
		}
		return err
	})
	if err == nil && path == "" {
		err = yamlx.Errorf(file, n, "config: expected file: with the path of the configuration (and server: or port: to pick one listener)")
	}
	return path, sel, err
}
