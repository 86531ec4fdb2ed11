package enforce

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// plainServerEnv makes a binary that imports this package run as the plain server (see init):
// the re-exec pattern, so that the keeptune binary and test binaries alike can start one.
const plainServerEnv = "KEEPTUNE_ENFORCE_PLAIN_SERVER"

func init() {
	if addr := os.Getenv(plainServerEnv); addr != "" {
		if err := runPlainServer(addr); err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
}

// runPlainServer is a program that never sets keepalive: it listens on addr, accepts one
// connection, answers "ping" with "pong", prints the accepted descriptor's number, and then
// holds the connection idle, never reading again, until its stdin closes. Plain system calls:
// no runtime sets anything on the socket for it.
func runPlainServer(addr string) error {
	ap, err := net.ResolveTCPAddr("tcp", addr)
	if err != nil {
		return err
	}
	family, sa := unix.AF_INET, unix.Sockaddr(nil)
	if ip4 := ap.IP.To4(); ip4 != nil {
		s := &unix.SockaddrInet4{Port: ap.Port}
		copy(s.Addr[:], ip4)
		sa = s
	} else {
		s := &unix.SockaddrInet6{Port: ap.Port}
		copy(s.Addr[:], ap.IP.To16())
		family, sa = unix.AF_INET6, s
	}
	lfd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	if err := unix.SetsockoptInt(lfd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
		return err
	}
	if err := unix.Bind(lfd, sa); err != nil {
		return fmt.Errorf("bind %s: %w", addr, err)
	}
	if err := unix.Listen(lfd, 16); err != nil {
		return err
	}
	fmt.Println("listening")
	afd, _, err := unix.Accept4(lfd, unix.SOCK_CLOEXEC)
	if err != nil {
		return err
	}
	unix.Close(lfd)
	buf := make([]byte, 4)
	if _, err := io.ReadFull(fdReader(afd), buf); err != nil {
		return fmt.Errorf("reading ping: %w", err)
	}
	if _, err := unix.Write(afd, []byte("pong")); err != nil {
		return err
	}
	fmt.Println("accepted", afd)
	io.Copy(io.Discard, os.Stdin)
	return nil
}

type fdReader int

func (f fdReader) Read(b []byte) (int, error) {
	n, err := unix.Read(int(f), b)
	if n == 0 && err == nil {
		return 0, io.EOF
	}
	return n, err
}

// PlainServer is a running plain server (a program that never sets keepalive) inside the
// sandbox's cgroup.
type PlainServer struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Scanner
}

// StartPlainServer starts the plain server on addr inside the sandbox's cgroup. start runs the
// fork: pass a function that runs its argument inside a network namespace (lab.Node.Do) to
// start the server there. It returns once the server listens.
func (sb *Sandbox) StartPlainServer(addr string, start func(func() error) error) (*PlainServer, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	fd, err := sb.CgroupFD()
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	ps := &PlainServer{cmd: exec.Command(self)}
	ps.cmd.Env = append(os.Environ(), plainServerEnv+"="+addr)
	// No Pdeathsig: it follows the forking thread, not the process. The sandbox's Close kills
	// whatever runs in its cgroup.
	ps.cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: fd}
	ps.cmd.Stderr = os.Stderr
	if ps.stdin, err = ps.cmd.StdinPipe(); err != nil {
		return nil, err
	}
	stdout, err := ps.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	ps.out = bufio.NewScanner(stdout)
	if err := start(ps.cmd.Start); err != nil {
		return nil, fmt.Errorf("starting the plain server: %w", err)
	}
	if _, err := ps.line("listening"); err != nil {
		ps.Close()
		return nil, err
	}
	return ps, nil
}

// line waits for a line starting with want and returns its other fields.
func (ps *PlainServer) line(want string) ([]string, error) {
	done := make(chan bool, 1)
	go func() { done <- ps.out.Scan() }()
	select {
	case ok := <-done:
		if !ok {
			return nil, fmt.Errorf("the plain server exited: %v", ps.out.Err())
		}
	case <-time.After(10 * time.Second):
		return nil, errors.New("the plain server did not answer within 10s")
	}
	f := strings.Fields(ps.out.Text())
	if len(f) == 0 || f[0] != want {
		return nil, fmt.Errorf("the plain server: %s", ps.out.Text())
	}
	return f[1:], nil
}

// PID is the server's process id.
func (ps *PlainServer) PID() int { return ps.cmd.Process.Pid }

// Accepted waits until the server has accepted a connection and answered its ping, and returns
// a duplicate of the server's socket (pidfd_getfd, Linux 5.6) as a file: the same socket, for
// reading its options and state and for waiting for its error; the server itself never reads it
// again. (Not a net.Conn: net.FileConn turns Go's own keepalive on for the socket.)
func (ps *PlainServer) Accepted() (*os.File, error) {
	f, err := ps.line("accepted")
	if err != nil {
		return nil, err
	}
	if len(f) != 1 {
		return nil, errors.New("the plain server did not say which descriptor it accepted")
	}
	n, err := strconv.Atoi(f[0])
	if err != nil {
		return nil, err
	}
	pidfd, err := unix.PidfdOpen(ps.PID(), 0)
	if err != nil {
		return nil, fmt.Errorf("pidfd_open: %w", err)
	}
	defer unix.Close(pidfd)
	fd, err := unix.PidfdGetfd(pidfd, n, 0)
	if err != nil {
		return nil, fmt.Errorf("pidfd_getfd: %w", err)
	}
	return os.NewFile(uintptr(fd), "plain-server-socket"), nil
}

// Close stops the server.
func (ps *PlainServer) Close() {
	ps.stdin.Close()
	ps.cmd.Process.Kill()
	ps.cmd.Wait()
}
