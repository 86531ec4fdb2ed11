// Command keeptune audits, measures and tunes TCP connection liveness on Linux hosts.
package main

import (
	"os"

	"github.com/keeptune/keeptune/internal/cli"
)

func main() { os.Exit(cli.Main()) }
