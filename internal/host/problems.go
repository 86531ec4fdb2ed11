package host

import (
	"errors"
	"io/fs"
	"syscall"

	"github.com/keeptune/keeptune/internal/model"
)

// readProblem describes a fact that could not be read; permission errors name root as the way
// to read it.
func readProblem(what string, err error) model.Problem {
	p := model.Problem{What: what, Err: err.Error()}
	if isPermission(err) {
		p.Needs = "root"
	}
	return p
}

// isPermission reports whether err is a refusal for lack of privilege (EACCES or EPERM).
func isPermission(err error) bool {
	return errors.Is(err, fs.ErrPermission) || errors.Is(err, syscall.EPERM)
}

// isGone reports whether err says the thing vanished while it was being read: a process that
// exited, a descriptor closed between listing and reading. Such errors are not Problems.
func isGone(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ESRCH)
}
