// Package chain reads chain files (keeptune.yaml): the hops connections take from the client
// side to the application, each with its timeouts. A hop's values come, in increasing
// precedence, from the catalog (`catalog:` for middleboxes, `runtime:` for software), from its
// configuration file (`config:`, read by a registered ConfigReader), and from values written on
// the hop itself. Every value keeps its source, so a finding can say which line to change.
//
// The file format is documented in docs/chain.md.
package chain
