// Package all registers every configuration format keeptune reads: import it for its side
// effect. Each format adds one file here with a blank import of its package.
package all
