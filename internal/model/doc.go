// Package model is keeptune's vocabulary: the values every layer of a connection path carries
// (keepalive settings, timeouts, where each value came from), the facts gathered about a host
// (Snapshot), the workload targets they are judged against (Profile), and what the rules say
// about them (Finding).
//
// Facts flow one way: fact sources fill a Snapshot, rules read it with a Profile and emit
// Findings, renderers print them. Nothing in this package does I/O.
package model
