package apply

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// tempPrefix starts the name of every temporary file apply creates beside a file it replaces;
// recovery removes leftovers with this prefix.
const tempPrefix = ".keeptune-"

// FileMeta is what a file was: enough to put it back byte for byte with its mode, owner and
// modification time.
type FileMeta struct {
	Mode    fs.FileMode `json:"mode"`
	UID     int         `json:"uid"`
	GID     int         `json:"gid"`
	MtimeNs int64       `json:"mtime_ns"`
	Size    int64       `json:"size"`
	SHA256  string      `json:"sha256"`
}

// fileNow is a file as it is now: absent, or its bytes and meta.
type fileNow struct {
	exists bool
	data   []byte
	meta   FileMeta
}

func sum(data []byte) string {
	h := sha256.Sum256(data)
	return hex.EncodeToString(h[:])
}

// readFileNow reads path (following symlinks) with its meta.
func readFileNow(path string) (fileNow, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return fileNow{}, nil
	}
	if err != nil {
		return fileNow{}, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fileNow{}, err
	}
	if !st.Mode().IsRegular() {
		return fileNow{}, fmt.Errorf("%s is not a regular file", path)
	}
	var data bytes.Buffer
	if _, err := data.ReadFrom(f); err != nil {
		return fileNow{}, err
	}
	m := FileMeta{Mode: st.Mode().Perm() | st.Mode()&(fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky), MtimeNs: st.ModTime().UnixNano(), Size: int64(data.Len()), SHA256: sum(data.Bytes())}
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		m.UID, m.GID = int(sys.Uid), int(sys.Gid)
	}
	return fileNow{exists: true, data: data.Bytes(), meta: m}, nil
}

// writeAtomic replaces path with data: a temporary file in the same directory gets the bytes,
// mode and owner (and the mtime when mtimeNs is not zero), is fsynced and renamed over path,
// and the directory is fsynced, so that after a crash path holds either the old bytes or the
// new ones.
func writeAtomic(path string, data []byte, mode fs.FileMode, uid, gid int, mtimeNs int64) error {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := tempName(dir, base)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := f.Chown(uid, gid); err != nil && !(errors.Is(err, fs.ErrPermission) && os.Geteuid() != 0) {
		return fmt.Errorf("chown %s: %w", tmp, err)
	}
	// Chmod after chown: chown clears set-id bits.
	if err := f.Chmod(mode); err != nil {
		return fmt.Errorf("chmod %s: %w", tmp, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("fsync %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return err
	}
	if mtimeNs != 0 {
		t := time.Unix(0, mtimeNs)
		if err := os.Chtimes(tmp, t, t); err != nil {
			return err
		}
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	ok = true
	return syncDir(dir)
}

// removeDurably removes path (absent is fine) and fsyncs its directory.
func removeDurably(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return syncDir(filepath.Dir(path))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("fsync directory %s: %w", dir, err)
	}
	return nil
}

func tempName(dir, base string) (string, error) {
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return filepath.Join(dir, tempPrefix+base+".tmp-"+hex.EncodeToString(b)), nil
}

// removeTemps removes leftover temporary files of base in dir (from a crash between creating a
// temporary file and renaming it).
func removeTemps(dir, base string) error {
	matches, err := filepath.Glob(filepath.Join(dir, tempPrefix+globEscape(base)+".tmp-*"))
	if err != nil {
		return err
	}
	for _, m := range matches {
		if err := os.Remove(m); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	if len(matches) > 0 {
		return syncDir(dir)
	}
	return nil
}

func globEscape(s string) string {
	r := strings.NewReplacer(`*`, `\*`, `?`, `\?`, `[`, `\[`, `\`, `\\`)
	return r.Replace(s)
}
