package apply

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// DefaultStateDir is where the journal lives unless --state-dir says otherwise.
const DefaultStateDir = "/var/lib/keeptune"

// State is where an apply stands. An entry is written in StateApplying before the first
// change; a crash leaves it there, and Recover undoes it.
type State string

// The states of a journal entry.
const (
	StateApplying    State = "applying"
	StateApplied     State = "applied"
	StateRollingBack State = "rolling_back"
	StateRolledBack  State = "rolled_back"
)

// Entry is one apply in the journal.
type Entry struct {
	ID      string    `json:"id"`
	Created time.Time `json:"created"`
	State   State     `json:"state"`
	// Source says where the plan came from: a plan file's path, or "planned at apply".
	Source string `json:"source"`
	// Files are the files apply touches, in the order it touches them.
	Files []FileRecord `json:"files"`
	// Sysctls are the live values it sets, in the order it sets them.
	Sysctls []SysctlRecord `json:"sysctls"`
	// Reloads are the servers it reloads after swapping their configuration in.
	Reloads []ReloadRecord `json:"reloads,omitempty"`
	// Events are what happened to the entry after the apply (rollbacks, recoveries), oldest
	// first.
	Events []Event `json:"events,omitempty"`
}

// FileRecord is one file an apply writes: what it was and what apply makes it.
type FileRecord struct {
	Path string `json:"path"`
	// Why is "sysctl_file", "remove_lines" or "config".
	Why     string `json:"why"`
	Existed bool   `json:"existed"`
	// Before is the file as it was (nil when it did not exist); its bytes are in the entry's
	// directory under Backup.
	Before *FileMeta `json:"before,omitempty"`
	Backup string    `json:"backup,omitempty"`
	// AfterSHA256 is the hash of what apply writes; rollback refuses when the file is neither
	// this nor Before (someone edited it since).
	AfterSHA256 string      `json:"after_sha256"`
	AfterMode   fs.FileMode `json:"after_mode"`
	// After is stored too (as After in the entry directory), so that an interrupted apply can
	// be told apart from an edit.
	After string `json:"after"`
}

// SysctlRecord is one live sysctl an apply sets in one namespace.
type SysctlRecord struct {
	Scope  string `json:"scope"`
	Netns  Netns  `json:"netns"`
	Key    string `json:"key"`
	Before string `json:"before"`
	After  string `json:"after"`
}

// ReloadRecord is a server reload apply did, repeated on rollback.
type ReloadRecord struct {
	Server string `json:"server"`
	Main   string `json:"main,omitempty"`
	How    string `json:"how"`
}

// Event is something that happened to an entry.
type Event struct {
	Time time.Time `json:"time"`
	What string    `json:"what"`
}

// Journal is the state directory: entries under journal/ID/, one lock file.
type Journal struct {
	dir  string
	lock *os.File
}

// OpenJournal creates the state directory if needed and takes its lock, so that two applies
// or rollbacks never run at once. Close releases it.
func OpenJournal(dir string) (*Journal, error) {
	if dir == "" {
		dir = DefaultStateDir
	}
	if err := os.MkdirAll(filepath.Join(dir, "journal"), 0o700); err != nil {
		return nil, fmt.Errorf("state directory: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("state directory: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s is locked by another keeptune apply or rollback: %w", dir, err)
	}
	return &Journal{dir: dir, lock: f}, nil
}

// Close releases the lock.
func (j *Journal) Close() error { return j.lock.Close() }

// Dir is the state directory.
func (j *Journal) Dir() string { return j.dir }

func (j *Journal) entryDir(id string) string { return filepath.Join(j.dir, "journal", id) }

// newID returns a sortable, unique ID: UTC time and 4 random hex digits.
func newID(now time.Time) string {
	b := make([]byte, 2)
	_, _ = rand.Read(b)
	return now.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b)
}

// create makes the entry's directory with the plan and the backups, durably.
func (j *Journal) create(e *Entry, plan []byte, blobs map[string][]byte) error {
	d := j.entryDir(e.ID)
	if err := os.Mkdir(d, 0o700); err != nil {
		return err
	}
	if err := writeAtomic(filepath.Join(d, "plan.json"), plan, 0o600, os.Getuid(), os.Getgid(), 0); err != nil {
		return err
	}
	names := make([]string, 0, len(blobs))
	for n := range blobs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if err := writeAtomic(filepath.Join(d, n), blobs[n], 0o600, os.Getuid(), os.Getgid(), 0); err != nil {
			return err
		}
	}
	if err := j.save(e); err != nil {
		return err
	}
	return syncDir(filepath.Dir(d))
}

// save writes entry.json atomically.
func (j *Journal) save(e *Entry) error {
	b, err := json.MarshalIndent(e, "", "  ")
	if err != nil {
		return err
	}
	return writeAtomic(filepath.Join(j.entryDir(e.ID), "entry.json"), append(b, '\n'), 0o600, os.Getuid(), os.Getgid(), 0)
}

// setState records a new state (and an event) durably.
func (j *Journal) setState(e *Entry, s State, what string) error {
	e.State = s
	if what != "" {
		e.Events = append(e.Events, Event{Time: time.Now().UTC(), What: what})
	}
	return j.save(e)
}

// Blob reads a file stored with an entry (a backup, plan.json).
func (j *Journal) Blob(id, name string) ([]byte, error) {
	return os.ReadFile(filepath.Join(j.entryDir(id), name))
}

// Load reads one entry.
func (j *Journal) Load(id string) (*Entry, error) {
	if id == "" || strings.ContainsAny(id, "/\\") || id == "." || id == ".." {
		return nil, fmt.Errorf("invalid apply ID %q", id)
	}
	b, err := os.ReadFile(filepath.Join(j.entryDir(id), "entry.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("no apply %s in %s", id, j.dir)
	}
	if err != nil {
		return nil, err
	}
	var e Entry
	if err := json.Unmarshal(b, &e); err != nil {
		return nil, fmt.Errorf("journal entry %s: %w", id, err)
	}
	return &e, nil
}

// List returns every entry, oldest first. A directory without entry.json (a crash while the
// entry was being created, before anything changed) is removed.
func (j *Journal) List() ([]*Entry, error) {
	dirs, err := os.ReadDir(filepath.Join(j.dir, "journal"))
	if err != nil {
		return nil, err
	}
	var out []*Entry
	for _, d := range dirs {
		if !d.IsDir() {
			continue
		}
		if _, err := os.Stat(filepath.Join(j.entryDir(d.Name()), "entry.json")); errors.Is(err, fs.ErrNotExist) {
			// Nothing was changed before entry.json became durable.
			if err := os.RemoveAll(j.entryDir(d.Name())); err != nil {
				return nil, err
			}
			continue
		}
		e, err := j.Load(d.Name())
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].ID < out[b].ID })
	return out, nil
}

// SaveBlob stores an extra file with an entry (the canary's verdict).
func (j *Journal) SaveBlob(id, name string, data []byte) error {
	return writeAtomic(filepath.Join(j.entryDir(id), name), data, 0o600, os.Getuid(), os.Getgid(), 0)
}
