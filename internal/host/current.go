package host

import (
	"path/filepath"

	"github.com/keeptune/keeptune/internal/model"
)

// CurrentNamespace reads the live sysctls of the network namespace keeptune runs in from
// root's proc/sys ("/" for the live system), with the kernel defaults and each value's Source,
// and fills Keepalive from them. It reads nothing else (no sysctl.d, no processes, no other
// namespace): the cheap read for a caller that needs only these values, such as drill's
// --from-host, through the same reader Collect uses. Keys that cannot be read are Problems.
func CurrentNamespace(root string) (model.Namespace, []model.Problem) {
	if root == "" {
		root = "/"
	}
	root = filepath.Clean(root)
	ps := procSys{dir: filepath.Join(root, "proc/sys")}
	release, _ := ps.read("kernel.osrelease") // only version-dependent defaults need it
	r := readSysctls(ps, parseKernelRelease(release), nil, false, "")
	ns := model.Namespace{Current: true, Sysctls: r.sysctls, Keepalive: keepaliveOf(r.sysctls)}
	if r.conntrack {
		ns.Conntrack = conntrackOf(r.sysctls, model.Setting[int]{})
	}
	return ns, r.problems
}
