package lab

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Leftovers lists every object named with Prefix: namespaces pinned under /run/netns, veths
// and nftables tables in the caller's namespace (the root namespace for the CLI; a lab never
// puts anything there, so finding one means something went badly wrong), and lock files.
// Objects of runs that are still alive are marked InUse.
func Leftovers() ([]Leftover, error) {
	var out []Leftover
	var errs []error
	add := func(kind, name string) {
		if id := runIDOf(name); id != "" {
			out = append(out, Leftover{Kind: kind, Name: name, RunID: id})
		}
	}
	if ents, err := os.ReadDir(netnsDir); err == nil {
		for _, e := range ents {
			add("netns", e.Name())
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		errs = append(errs, fmt.Errorf("lab: list %s: %w", netnsDir, err))
	}
	if links, err := netlink.LinkList(); err == nil {
		for _, l := range links {
			add("veth", l.Attrs().Name)
		}
	} else {
		errs = append(errs, fmt.Errorf("lab: list links: %w", err))
	}
	if tables, err := listOurTables(); err == nil {
		for _, t := range tables {
			add("nft table", t.Name)
		}
	} else {
		errs = append(errs, err)
	}
	if ents, err := os.ReadDir(lockDir); err == nil {
		for _, e := range ents {
			if strings.HasSuffix(e.Name(), ".lock") || strings.HasSuffix(e.Name(), ".lock.new") {
				add("lock", e.Name())
			}
		}
	} else {
		errs = append(errs, fmt.Errorf("lab: list %s: %w", lockDir, err))
	}
	live := map[string]bool{}
	for i := range out {
		id := out[i].RunID
		if _, seen := live[id]; !seen {
			live[id] = runAlive(id)
		}
		out[i].InUse = live[id]
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].RunID < out[j].RunID })
	return out, errors.Join(errs...)
}

// runAlive reports whether the run that owns id still holds its lock. flock locks belong to
// an open file description, so this sees this process's own live labs as alive too.
func runAlive(id string) bool {
	f, err := os.Open(lockPath(id))
	if err != nil {
		return false
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		return errors.Is(err, unix.EWOULDBLOCK)
	}
	unix.Flock(int(f.Fd()), unix.LOCK_UN)
	return false
}

// Cleanup removes the leftovers of runs that are no longer alive (a drill killed with
// SIGKILL, a machine that lost power in the middle of one). With runIDs it only looks at those
// runs. It returns what it removed and what it left because its run is alive.
func Cleanup(runIDs ...string) (removed, inUse []Leftover, err error) {
	all, err := Leftovers()
	var errs []error
	if err != nil {
		errs = append(errs, err)
	}
	// Locks last: a run whose namespaces could not be removed keeps its lock file, so the
	// next Cleanup finds it again.
	sort.SliceStable(all, func(i, j int) bool { return all[i].Kind != "lock" && all[j].Kind == "lock" })
	failed := map[string]bool{}
	for _, l := range all {
		if len(runIDs) > 0 && !slices.Contains(runIDs, l.RunID) {
			continue
		}
		if l.InUse {
			inUse = append(inUse, l)
			continue
		}
		var rerr error
		switch l.Kind {
		case "netns":
			rerr = deleteNamed(l.Name)
		case "veth":
			rerr = deleteLink(l.Name)
		case "nft table":
			rerr = deleteOurTables(l.Name)
		case "lock":
			if failed[l.RunID] {
				continue
			}
			rerr = os.Remove(filepath.Join(lockDir, l.Name))
		}
		if rerr != nil {
			failed[l.RunID] = true
			errs = append(errs, fmt.Errorf("lab: remove %s: %w", l, rerr))
			continue
		}
		removed = append(removed, l)
	}
	return removed, inUse, errors.Join(errs...)
}

func deleteLink(name string) error {
	link, err := netlink.LinkByName(name)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) {
			return nil
		}
		return err
	}
	return netlink.LinkDel(link)
}

// deleteOurTables deletes every table called name in the caller's namespace (any family).
func deleteOurTables(name string) error {
	tables, err := listOurTables()
	if err != nil {
		return err
	}
	for _, t := range tables {
		if t.Name == name {
			if err := deleteTable(t); err != nil {
				return err
			}
		}
	}
	return nil
}

// Remaining lists what is left of run id (nothing, after a successful Close). Tests use it to
// prove that a lab left nothing behind.
func Remaining(id string) ([]Leftover, error) {
	all, err := Leftovers()
	var out []Leftover
	for _, l := range all {
		if l.RunID == id {
			out = append(out, l)
		}
	}
	return out, err
}
