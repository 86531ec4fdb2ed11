package apply

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
)

// ConflictError is returned, with nothing changed, when rollback finds a file or live value
// that someone changed after the apply (it is neither what apply found nor what it wrote).
type ConflictError struct {
	ID        string
	Conflicts []string
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("changed since apply %s, so rolling back would lose those changes; nothing was changed:\n  %s",
		e.ID, strings.Join(e.Conflicts, "\n  "))
}

// RollbackResult is what Rollback did.
type RollbackResult struct {
	ID        string   `json:"id,omitempty"`
	Recovered []string `json:"recovered,omitempty"`
	Steps     []Step   `json:"steps"`
	// Skipped lists values that could not be restored because their namespace is gone.
	Skipped []string `json:"skipped,omitempty"`
}

// ErrNothingToRollBack is returned by Rollback without an ID when no apply is in force.
var ErrNothingToRollBack = errors.New("no apply to roll back")

// Recover undoes applies a crash interrupted and finishes interrupted rollbacks, returning a
// line per entry it dealt with. Apply and Rollback call it first.
func Recover(j *Journal, o Options) ([]string, error) {
	entries, err := j.List()
	if err != nil {
		return nil, err
	}
	var done []string
	for _, e := range entries {
		var what string
		switch e.State {
		case StateApplying:
			what = "interrupted apply undone"
		case StateRollingBack:
			what = "interrupted rollback finished"
		default:
			continue
		}
		if _, err := rollbackEntry(j, e, o, what); err != nil {
			return done, fmt.Errorf("apply %s was interrupted and cannot be undone: %w", e.ID, err)
		}
		o.log("%s: %s", e.ID, what)
		done = append(done, e.ID+": "+what)
	}
	return done, nil
}

// Rollback undoes apply id (the last apply in force when id is empty).
func Rollback(j *Journal, id string, o Options) (*RollbackResult, error) {
	rec, err := Recover(j, o)
	res := &RollbackResult{Recovered: rec}
	if err != nil {
		return res, err
	}
	if id == "" {
		if len(rec) > 0 {
			return res, nil // the interrupted apply was the last one, and it is undone
		}
		entries, err := j.List()
		if err != nil {
			return res, err
		}
		for i := len(entries) - 1; i >= 0; i-- {
			if entries[i].State == StateApplied {
				id = entries[i].ID
				break
			}
		}
		if id == "" {
			return res, ErrNothingToRollBack
		}
	}
	e, err := j.Load(id)
	if err != nil {
		return res, err
	}
	if e.State != StateApplied {
		return res, fmt.Errorf("apply %s is %s, not applied", id, strings.ReplaceAll(string(e.State), "_", " "))
	}
	r, err := rollbackEntry(j, e, o, "rolled back")
	if r != nil {
		res.ID, res.Steps, res.Skipped = id, r.Steps, r.Skipped
	}
	return res, err
}

// rollbackEntry restores what entry e changed. Every file and value must be what apply found
// or what it wrote (an interrupted apply leaves each one or the other); anything else is a
// conflict and nothing is changed, unless o.Force.
func rollbackEntry(j *Journal, e *Entry, o Options, what string) (*RollbackResult, error) {
	res := &RollbackResult{ID: e.ID}
	var conflicts []string
	nowFiles := make([]fileNow, len(e.Files))
	for i, f := range e.Files {
		now, err := readFileNow(o.path(f.Path))
		if err != nil {
			return nil, err
		}
		nowFiles[i] = now
		switch {
		case !now.exists && !f.Existed:
		case now.exists && now.meta.SHA256 == f.AfterSHA256:
		case now.exists && f.Before != nil && now.meta.SHA256 == f.Before.SHA256:
		case !now.exists:
			conflicts = append(conflicts, fmt.Sprintf("%s was deleted", f.Path))
		default:
			conflicts = append(conflicts, fmt.Sprintf("%s was edited (sha256 %s, apply wrote %s)", f.Path, short(now.meta.SHA256), short(f.AfterSHA256)))
		}
	}
	nowValues := make([]string, len(e.Sysctls))
	gone := make([]bool, len(e.Sysctls))
	for i, s := range e.Sysctls {
		cur, err := o.sysctls().Read(s.Netns, s.Key)
		if err != nil {
			// A namespace that is gone has no value left to restore.
			gone[i] = true
			res.Skipped = append(res.Skipped, fmt.Sprintf("%s in %s: %v", s.Key, s.Netns, err))
			continue
		}
		nowValues[i] = cur
		if cur != s.After && cur != s.Before {
			conflicts = append(conflicts, fmt.Sprintf("%s in %s is %s (apply set %s, it was %s)", s.Key, s.Netns, cur, s.After, s.Before))
		}
	}
	if len(conflicts) > 0 && !o.Force {
		return res, &ConflictError{ID: e.ID, Conflicts: conflicts}
	}
	if e.State != StateRollingBack {
		if err := j.setState(e, StateRollingBack, ""); err != nil {
			return res, fmt.Errorf("journal: %w (nothing was changed)", err)
		}
	}
	failpoint("rollback:started")
	for i := len(e.Files) - 1; i >= 0; i-- {
		f := e.Files[i]
		full := o.path(f.Path)
		if err := removeTemps(filepath.Dir(full), filepath.Base(full)); err != nil {
			return res, err
		}
		now := nowFiles[i]
		switch {
		case !f.Existed:
			if now.exists {
				if err := removeDurably(full); err != nil {
					return res, err
				}
				res.Steps = append(res.Steps, Step{Kind: "file", Target: f.Path, To: "removed", Status: "done"})
				o.log("removed %s (apply created it)", f.Path)
			}
		case now.exists && now.meta == *f.Before:
		default:
			data, err := j.Blob(e.ID, f.Backup)
			if err != nil {
				return res, fmt.Errorf("backup of %s: %w", f.Path, err)
			}
			b := f.Before
			if err := writeAtomic(full, data, b.Mode, b.UID, b.GID, b.MtimeNs); err != nil {
				return res, fmt.Errorf("restore %s: %w", f.Path, err)
			}
			res.Steps = append(res.Steps, Step{Kind: "file", Target: f.Path, To: "restored", Status: "done"})
			o.log("restored %s", f.Path)
		}
		failpoint(fmt.Sprintf("rollback:file:%d", i))
	}
	if err := reloadAfterRollback(e, &o, res); err != nil {
		return res, err
	}
	for i := len(e.Sysctls) - 1; i >= 0; i-- {
		s := e.Sysctls[i]
		if gone[i] || nowValues[i] == s.Before {
			continue
		}
		if err := o.sysctls().Write(s.Netns, s.Key, s.Before); err != nil {
			return res, err
		}
		res.Steps = append(res.Steps, Step{Kind: "sysctl", Target: fmt.Sprintf("%s in %s", s.Key, scopeName(SysctlSet{Scope: s.Scope, Netns: s.Netns})), From: s.After, To: s.Before, Status: "done"})
		o.log("set %s = %s in %s (back from %s)", s.Key, s.Before, scopeName(SysctlSet{Scope: s.Scope, Netns: s.Netns}), s.After)
		failpoint(fmt.Sprintf("rollback:sysctl:%d", i))
	}
	if err := j.setState(e, StateRolledBack, what); err != nil {
		return res, err
	}
	failpoint("rollback:done")
	return res, nil
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}
