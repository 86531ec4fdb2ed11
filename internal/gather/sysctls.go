package gather

import (
	"github.com/keeptune/keeptune/internal/host"
	"github.com/keeptune/keeptune/internal/model"
)

// Sysctls reads the live sysctls of the network namespace keeptune runs in, under root ("/"
// when empty): the keepalive values and tcp_retries2 with their Sources, and a Problem for
// each key that cannot be read. It is the cheap read for verbs that need only these values
// (drill's --from-host and --compare host), through the same reader Host uses, so a value
// means the same thing in both.
func Sysctls(root string) (model.Namespace, []model.Problem) {
	return host.CurrentNamespace(root)
}
