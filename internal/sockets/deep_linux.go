package sockets

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// deepReader reads the keepalive options of sockets held by other processes: pidfd_open(2) on the
// holder, pidfd_getfd(2) to get a duplicate of its descriptor (Linux 5.6+, needs ptrace access to
// the process: root, or CAP_SYS_PTRACE), getsockopt(2) on the duplicate, close. getsockopt returns
// the effective value (the socket's own, or its namespace's sysctl when the program set none), so
// a value that differs from the namespace's sysctl was set by the program.
type deepReader struct {
	pidfds map[int]int // pid -> pidfd, -1 when it cannot be opened
	errs   map[int]error
	// Read and Failed count sockets; FirstErr is the first failure, to explain it once.
	Read, Failed int
	FirstErr     error
	// limit caps the sockets read per process (0: no cap); reads counts them.
	limit int
	reads map[int]int
}

func newDeepReader(perProcess int) *deepReader {
	return &deepReader{pidfds: map[int]int{}, errs: map[int]error{}, limit: perProcess, reads: map[int]int{}}
}

// allow reports whether another socket of pid may be read (Options.DeepPerProcess).
func (d *deepReader) allow(pid int) bool {
	if d.limit <= 0 {
		return true
	}
	d.reads[pid]++
	return d.reads[pid] <= d.limit
}

// Close closes every pidfd opened.
func (d *deepReader) Close() {
	for _, fd := range d.pidfds {
		if fd >= 0 {
			unix.Close(fd)
		}
	}
	d.pidfds = map[int]int{}
}

func (d *deepReader) pidfd(pid int) (int, error) {
	if fd, ok := d.pidfds[pid]; ok {
		if fd < 0 {
			return -1, d.errs[pid]
		}
		return fd, nil
	}
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		err = fmt.Errorf("pidfd_open(%d): %w", pid, err)
		d.pidfds[pid], d.errs[pid] = -1, err
		return -1, err
	}
	d.pidfds[pid] = fd
	return fd, nil
}

// read fills s.Keepalive from the socket itself. s.Owner and s.OwnerFD must be set.
func (d *deepReader) read(s *Socket) {
	k := &s.Keepalive
	err := d.readInto(s)
	if err != nil {
		k.Deep = false
		k.Err = err.Error()
		d.Failed++
		if d.FirstErr == nil {
			d.FirstErr = err
		}
		return
	}
	d.Read++
}

func (d *deepReader) readInto(s *Socket) error {
	if s.Owner == nil {
		return errors.New("no process holds the socket")
	}
	pfd, err := d.pidfd(s.Owner.PID)
	if err != nil {
		return err
	}
	fd, err := unix.PidfdGetfd(pfd, int(s.OwnerFD), 0)
	if err != nil {
		if errors.Is(err, unix.EPERM) {
			err = fmt.Errorf("%w: %w", err, ErrPrivilege)
		}
		if errors.Is(err, unix.ENOSYS) {
			err = fmt.Errorf("%w (pidfd_getfd needs Linux 5.6 or newer)", err)
		}
		return fmt.Errorf("pidfd_getfd(pid %d, fd %d): %w", s.Owner.PID, s.OwnerFD, err)
	}
	defer unix.Close(fd)
	// The descriptor may have been closed and reused since the walk: check it is the same socket.
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fmt.Errorf("fstat of pid %d fd %d: %w", s.Owner.PID, s.OwnerFD, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFSOCK || uint32(st.Ino) != s.Inode {
		return fmt.Errorf("pid %d fd %d no longer holds socket %d", s.Owner.PID, s.OwnerFD, s.Inode)
	}
	get := func(level, opt int, name string) (int, error) {
		v, err := unix.GetsockoptInt(fd, level, opt)
		if err != nil {
			return 0, fmt.Errorf("getsockopt %s on pid %d fd %d: %w", name, s.Owner.PID, s.OwnerFD, err)
		}
		return v, nil
	}
	// Each option is read on its own: one that fails (TCP_USER_TIMEOUT on some listeners, an
	// option an old kernel lacks) must not hide the others. Only when none can be read is the
	// socket's deep read a failure.
	k := &s.Keepalive
	k.Unread = 0
	var errs []string
	read := func(level, opt int, name string, bit SetBits) (int, bool) {
		v, err := get(level, opt, name)
		if err != nil {
			errs = append(errs, err.Error())
			k.Unread |= bit
			return 0, false
		}
		return v, true
	}
	ka, _ := read(unix.SOL_SOCKET, unix.SO_KEEPALIVE, "SO_KEEPALIVE", UnreadEnabled)
	idle, _ := read(unix.IPPROTO_TCP, unix.TCP_KEEPIDLE, "TCP_KEEPIDLE", SetIdle)
	intvl, _ := read(unix.IPPROTO_TCP, unix.TCP_KEEPINTVL, "TCP_KEEPINTVL", SetInterval)
	cnt, _ := read(unix.IPPROTO_TCP, unix.TCP_KEEPCNT, "TCP_KEEPCNT", SetCount)
	uto, _ := read(unix.IPPROTO_TCP, unix.TCP_USER_TIMEOUT, "TCP_USER_TIMEOUT", SetUserTimeout)
	if len(errs) == 5 {
		k.Unread = 0
		return errors.New(errs[0])
	}
	k.Deep, k.Err = true, strings.Join(errs, "; ")
	k.Enabled = ka != 0
	k.Idle = time.Duration(idle) * time.Second
	k.Interval = time.Duration(intvl) * time.Second
	k.Count = cnt
	k.UserTimeout = time.Duration(uto) * time.Millisecond
	k.SetByProgram = 0
	if uto != 0 {
		k.SetByProgram |= SetUserTimeout
	}
	if s.Netns != nil && s.Netns.Sysctls.Known {
		sys := s.Netns.Sysctls
		if k.Unread&SetIdle == 0 && k.Idle != sys.Idle {
			k.SetByProgram |= SetIdle
		}
		if k.Unread&SetInterval == 0 && k.Interval != sys.Interval {
			k.SetByProgram |= SetInterval
		}
		if k.Unread&SetCount == 0 && k.Count != sys.Count {
			k.SetByProgram |= SetCount
		}
	}
	return nil
}

// ReadKeepalive fills s.Keepalive from the socket itself, as Walk's Deep does, for a socket
// found another way (Lookup) whose holder the caller knows: s.Owner and s.OwnerFD must be set,
// and s.Inode (the read checks the descriptor still holds that socket).
func ReadKeepalive(s *Socket) error {
	d := newDeepReader(0)
	defer d.Close()
	d.read(s)
	return d.FirstErr
}
