package host

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/keeptune/keeptune/internal/model"
)

// kernelVersion is the major.minor of a kernel release string; ok is false when the release
// could not be parsed, and then no version-dependent default is claimed.
type kernelVersion struct {
	major, minor int
	ok           bool
}

// parseKernelRelease reads "6.18.44-fc-v657" or "5.4.0-150-generic" as 6.18 or 5.4.
func parseKernelRelease(s string) kernelVersion {
	s = strings.TrimSpace(s)
	majS, rest, found := strings.Cut(s, ".")
	if !found {
		return kernelVersion{}
	}
	end := 0
	for end < len(rest) && rest[end] >= '0' && rest[end] <= '9' {
		end++
	}
	maj, err1 := strconv.Atoi(majS)
	min, err2 := strconv.Atoi(rest[:end])
	if err1 != nil || err2 != nil {
		return kernelVersion{}
	}
	return kernelVersion{major: maj, minor: min, ok: true}
}

// atLeast reports whether the version is known and at least major.minor.
func (k kernelVersion) atLeast(major, minor int) bool {
	return k.ok && (k.major > major || k.major == major && k.minor >= minor)
}

// hostInfo reads the host's identity. The hostname comes from the UTS namespace of the reader,
// like hostname(1).
func hostInfo(root string) (model.HostInfo, []model.Problem) {
	info := model.HostInfo{Root: root, Euid: os.Geteuid(), TakenAt: time.Now()}
	var probs []model.Problem
	for _, f := range []struct {
		key string
		dst *string
	}{{"kernel.hostname", &info.Hostname}, {"kernel.osrelease", &info.Kernel}} {
		p := filepath.Join(root, "proc/sys", keyPath(f.key))
		b, err := os.ReadFile(p)
		if err != nil {
			probs = append(probs, readProblem(f.key+" ("+p+")", err))
			continue
		}
		*f.dst = strings.TrimSpace(string(b))
	}
	return info, probs
}
