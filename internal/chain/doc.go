// Package chain reads chain files (keeptune.yaml): the hops connections take from the client
// side to the application, each with its timeouts. A hop's values come, in increasing
// precedence, from the catalog (`catalog:` for middleboxes, `runtime:` for software), from its
// configuration file (`config:`), and from values written on the hop itself. Every value keeps
// its source, so a finding can say which line to change.
//
// Parse only parses (no I/O: hops keep their references); Spec.Resolve layers the values, with
// the configuration files read by whoever calls it (internal/gather reads them under the audited
// root, once each).
//
// The file format is documented in docs/chain.md.
package chain
