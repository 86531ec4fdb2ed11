package gather

import (
	"fmt"

	"github.com/keeptune/keeptune/internal/catalog"
	"github.com/keeptune/keeptune/internal/yamlx"
)

// Catalog returns every entry of the built-in catalog, the source chain hops are resolved
// against (`catalog: NAME`), in its order.
func Catalog() []catalog.Entry { return catalog.All() }

// CatalogEntry returns the entry a name or alias names, as a chain hop's catalog: key would
// resolve it; an unknown name is an error matching ErrInput that suggests the nearest one.
func CatalogEntry(name string) (catalog.Entry, error) {
	if e, ok := catalog.Lookup(name); ok {
		return e, nil
	}
	err := fmt.Errorf("unknown catalog entry %q", name)
	if near := yamlx.Nearest(name, catalog.Keys()); near != "" {
		err = fmt.Errorf("unknown catalog entry %q: did you mean %q?", name, near)
	}
	return catalog.Entry{}, &inputError{err}
}
