// Package host gathers the facts keeptune judges about one Linux host: the sysctls that shape
// TCP keepalive and connection liveness in every network namespace, where each value comes
// from, the sysctl configuration files in the order they are applied, conntrack state, and the
// processes that own TCP sockets (with their RLIMIT_NOFILE and, for Go programs, the keepalive
// the Go runtime puts on their sockets).
//
// Collect is the entry point. Every fact that cannot be read becomes a model.Problem saying what,
// why and which privilege would read it; only a missing /proc makes Collect fail. Parsing is kept
// apart from I/O: the parsers take bytes, an io.Reader or an fs.FS and are tested with hand-built
// input, and Options.Root lets tests point the whole collection at a tree under testdata.
//
// # Which sysctl configuration wins
//
// keeptune reports the configuration the way systemd-sysctl(8) applies it at boot
// (man 5 sysctl.d, "CONFIGURATION DIRECTORIES AND PRECEDENCE"), followed by /etc/sysctl.conf the
// way procps `sysctl --system` (man 8 sysctl) reads it:
//
//  1. Files named *.conf are collected from /etc/sysctl.d, /run/sysctl.d, /usr/local/lib/sysctl.d,
//     /usr/lib/sysctl.d and /lib/sysctl.d. /lib/sysctl.d is skipped when it is the same directory
//     as /usr/lib/sysctl.d (merged /usr, where /lib is a symlink to usr/lib), so no file is read
//     twice.
//  2. A file name (basename) is taken from the first directory in that list that has it: a file
//     in /etc/sysctl.d replaces the file of the same name in /run, /usr/local/lib and /usr/lib.
//     A file that is a symlink to /dev/null, or is empty, masks the name: nothing of that name
//     is applied (man 5 sysctl.d: "the recommended way is to place a symlink to /dev/null in the
//     configuration directory in /etc/").
//  3. The remaining files are applied in lexical order of their basenames, whatever directory
//     they are in, so /usr/lib/sysctl.d/50-default.conf comes before /etc/sysctl.d/60-x.conf,
//     which comes before /run/sysctl.d/99-y.conf. When several lines set the same key, the line
//     applied last wins ("the entry in the file with the lexicographically latest name will take
//     precedence").
//  4. /etc/sysctl.conf is applied last, as `sysctl --system` does. systemd-sysctl itself does not
//     read it; distributions make it do so with a symlink such as Debian's
//     /etc/sysctl.d/99-sysctl.conf -> ../sysctl.conf. When /etc/sysctl.conf is already applied
//     through such a link it is not applied a second time.
//
// Symbolic links are resolved inside Options.Root, never on the machine running the tests.
//
// Lines are `key = value` (man 5 sysctl.d): blank lines and lines starting with '#' or ';' are
// comments; keys may use '/' or '.' as separators and are reported in dotted form
// (net/ipv4/tcp_keepalive_time becomes net.ipv4.tcp_keepalive_time; when the first separator is
// '/', the dots inside components become slashes, as systemd's sysctl_normalize does); a
// leading '-' marks an assignment whose failure is ignored. A line "-key" without '=' is a
// negative match: it keeps glob assignments away from key (and undoes earlier explicit lines
// for it). Keys containing '*', '?' or '[' are globs; systemd applies a glob only to keys that no
// explicit line sets, whatever the order, and so does keeptune. Whitespace around the key and the
// value is dropped and runs of whitespace inside a value become one space, so that values
// compare with what /proc/sys prints. systemd's credential sysctl.extra and the --prefix option
// are not modelled.
//
// # Network namespaces
//
// Most keepalive sysctls are per network namespace, and a new namespace starts from the kernel
// defaults, not from the host's values: host sysctl files do not reach containers. The namespace
// keeptune runs in is read through Root/proc/sys. With Options.AllNetns every namespace that a
// process lives in (Root/proc/PID/ns/net) or that `ip netns` pinned (Root/run/netns/NAME) is
// listed, and on the live system (Root "/") each is entered with setns(2) on a locked OS thread
// to read its /proc/sys, because /proc/sys/net shows the namespace of the reading thread. Only
// processes are walked, not their threads (as lsns(8) does): a namespace held by a single thread
// of a process and pinned nowhere is not seen.
package host
