// Package apply changes a host the way a plan says, and can undo it exactly.
//
// Every apply gets an ID and a journal entry under the state directory (/var/lib/keeptune by
// default): the plan, the previous bytes, mode, owner and mtime of every file it touches, and
// the previous live value of every sysctl in every network namespace. The entry is durable
// (written to a temporary file, fsynced, renamed, directory fsynced) before the first change,
// so a crash at any point leaves enough on disk for the next apply or rollback to undo the
// interrupted apply or finish the interrupted rollback (Recover). Files are replaced atomically
// the same way; a reader sees the old file or the new one, never a mix.
//
// What apply may change is narrow on purpose: the plan's sysctl.d file, the lines the plan
// removes from sysctl configuration files, live sysctls per namespace, and (package configs
// edits) server configuration files the plan diffs. Nothing else under /etc.
//
// Failpoints: with KEEPTUNE_FAILPOINT=NAME in the environment, the process kills itself with
// SIGKILL when it reaches the step NAME (a kill -9 at exactly that step); with
// KEEPTUNE_FAILPOINT_TRACE=FILE it appends the name of every step it passes to FILE. The tests
// use the trace to enumerate the steps and then stop the process at each one. See failpoint.go
// for the names.
package apply
