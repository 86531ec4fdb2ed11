package exporter

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"github.com/keeptune/keeptune/internal/apply"
	"github.com/keeptune/keeptune/internal/netns"
)

// driftRow is one setting of the last applied plan and whether its live value still matches.
type driftRow struct {
	netns   string // inode label; "" for files
	key     string // sysctl key or file path
	drifted bool
}

// driftState is what the journal says: no journal at all (no series), a journal without an
// applied plan (keeptune_plan_applied 0), or the rows of the last applied plan.
type driftState struct {
	journal bool
	applied bool
	rows    []driftRow
}

// readDrift compares the live values with the newest journal entry still in the applied state.
// It reads the journal's files directly and never takes its lock: a scrape must not hold up an
// apply. Without a journal directory it returns the zero driftState (no series).
// File paths in the journal are the host's; root prefixes them when the host's file system is
// mounted elsewhere (a container).
func readDrift(stateDir, root string, self uint64) (driftState, []readError) {
	var st driftState
	dir := filepath.Join(stateDir, "journal")
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return st, []readError{{"drift", err}}
	}
	st.journal = true
	names := make([]string, 0, len(ents))
	for _, e := range ents {
		if e.IsDir() {
			names = append(names, e.Name())
		}
	}
	// IDs sort by time: the newest entry first.
	slices.Sort(names)
	slices.Reverse(names)
	var errs []readError
	var entry *apply.Entry
	for _, id := range names {
		b, err := os.ReadFile(filepath.Join(dir, id, "entry.json"))
		if errors.Is(err, fs.ErrNotExist) {
			continue // being created, or abandoned before any change
		}
		if err != nil {
			errs = append(errs, readError{"drift", err})
			continue
		}
		var e apply.Entry
		if err := json.Unmarshal(b, &e); err != nil {
			errs = append(errs, readError{"drift", err})
			continue
		}
		if e.State == apply.StateApplied {
			entry = &e
			break
		}
	}
	if entry == nil {
		return st, errs
	}
	st.applied = true
	for _, s := range entry.Sysctls {
		ino := s.Netns.Inode
		if ino == 0 && s.Netns.Path != "" {
			if ino, err = netns.Inode(s.Netns.Path); err != nil {
				errs = append(errs, readError{"drift", err})
				continue
			}
		}
		if ino == 0 {
			ino = self // "this namespace": the one apply ran in, the host's for the DaemonSet
		}
		live, err := apply.ProcSysctls{}.Read(s.Netns, s.Key)
		if err != nil {
			errs = append(errs, readError{"drift", err})
			continue
		}
		st.rows = append(st.rows, driftRow{netns: nsLabel(ino), key: s.Key, drifted: live != s.After})
	}
	for _, f := range entry.Files {
		b, err := os.ReadFile(filepath.Join(root, f.Path))
		var drifted bool
		switch {
		case errors.Is(err, fs.ErrNotExist):
			drifted = true // apply wrote it; it is gone
		case err != nil:
			errs = append(errs, readError{"drift", err})
			continue
		default:
			sum := sha256.Sum256(b)
			drifted = hex.EncodeToString(sum[:]) != f.AfterSHA256
		}
		st.rows = append(st.rows, driftRow{key: f.Path, drifted: drifted})
	}
	return st, errs
}
