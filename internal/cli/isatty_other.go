//go:build !linux

package cli

func isatty(fd uintptr) bool { return false }
