//go:build !linux

package netns

// Do runs fn directly when path is empty and fails otherwise: only Linux has network
// namespaces.
func Do(path string, fn func() error) error {
	if path == "" {
		return fn()
	}
	return ErrUnsupported
}

// DoInode fails: only Linux has network namespaces.
func DoInode(string, uint64, func() error) error { return ErrUnsupported }

// DoFd fails: only Linux has network namespaces.
func DoFd(int, string, func() error) error { return ErrUnsupported }

// New fails: only Linux has network namespaces.
func New(func() error) error { return ErrUnsupported }

// Inode fails: only Linux has network namespaces.
func Inode(string) (uint64, error) { return 0, ErrUnsupported }

// Current fails: only Linux has network namespaces.
func Current() (uint64, error) { return 0, ErrUnsupported }
