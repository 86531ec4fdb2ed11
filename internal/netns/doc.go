// Package netns is keeptune's one way into a Linux network namespace.
//
// setns(2) moves only the calling thread, so every function here runs its callback on a
// goroutine locked to its OS thread, checks that the thread really is in the namespace it
// meant to enter (by inode: a /proc/PID/ns/net path can name another namespace once the PID is
// reused), and puts the thread back into its original namespace before unlocking it. When the
// thread cannot be put back, it is never unlocked: the goroutine ends still locked and the Go
// runtime terminates the thread instead of scheduling other goroutines on it in the wrong
// namespace.
//
// Lack of privilege (EPERM or EACCES from open or setns) is reported as an error matching
// ErrPrivilege, which names CAP_SYS_ADMIN, so callers can tell it from a namespace that went
// away. The callback runs on the locked thread: work it hands to other goroutines does not run
// in the namespace, except that sockets it creates belong to the namespace for good.
package netns
