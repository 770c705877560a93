// Package child is svcdisco's one supervisor for wrapped commands
// (`register -- CMD`, `lock -- CMD`, `elect -- CMD`), in the manner of
// `consul lock`, but stricter about what outlives whom:
//
//   - CMD runs in its own process group, so a stop reaches everything it
//     started, and a stop escalates from the stop signal to SIGKILL after a
//     grace period.
//   - When CMD exits, whatever it left running in its group is stopped too
//     (`sh -c 'sleep 301 & exit 0'` leaves nothing behind).
//   - CMD gets a parent-death signal (SIGKILL), so a svcdisco killed with
//     SIGKILL takes CMD with it.
//   - As root, CMD runs as PID 1 of its own PID namespace: when PID 1 dies
//     the kernel kills every process of the namespace, so not even a
//     grandchild that left the process group (setsid, a daemonizing
//     `mysqld_safe` → `mysqld`) survives svcdisco. Without root (or where
//     the kernel refuses a new PID namespace) only the direct child gets the
//     parent-death signal; its descendants are stopped through the process
//     group when svcdisco exits normally, but a SIGKILL of svcdisco leaves
//     them to their parent.
package child

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Spec says what to start.
type Spec struct {
	Argv           []string
	Env            []string // added to svcdisco's own environment
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// NoPIDNamespace keeps CMD in svcdisco's PID namespace even as root.
	NoPIDNamespace bool
}

// Child is a running command.
type Child struct {
	cmd        *exec.Cmd
	done       chan struct{}
	err        error
	pidNS      bool // CMD is PID 1 of its own PID namespace
	startedErr chan error
}

// Start runs argv[0] with argv[1:] in a new process group, in svcdisco's
// own PID namespace (`register -- CMD`: a registration needs no fence
// against a surviving tree, and PIDs CMD writes to pidfiles stay valid on
// the host). Its stdin, stdout and stderr are passed through unchanged.
func Start(argv []string, stdin io.Reader, stdout, stderr io.Writer) (*Child, error) {
	return StartSpec(Spec{Argv: argv, Stdin: stdin, Stdout: stdout, Stderr: stderr, NoPIDNamespace: true})
}

// ErrNotFound wraps a command that could not be started because it does not
// exist or is not executable; shells exit 127 for it.
var ErrNotFound = errors.New("command not found")

// StartSpec starts the command s describes. The command is started and
// waited for on one locked OS thread, because the parent-death signal is
// tied to the thread that started the child, not to the process.
func StartSpec(s Spec) (*Child, error) {
	if len(s.Argv) == 0 {
		return nil, errors.New("no command given")
	}
	c := &Child{done: make(chan struct{}), startedErr: make(chan error, 1)}
	ns := !s.NoPIDNamespace && os.Geteuid() == 0
	go c.run(s, ns)
	if err := <-c.startedErr; err != nil {
		if ns && (errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EINVAL)) {
			// No PID namespace here (a container without CAP_SYS_ADMIN,
			// a kernel without CONFIG_PID_NS): fall back to the group.
			c = &Child{done: make(chan struct{}), startedErr: make(chan error, 1)}
			go c.run(s, false)
			err = <-c.startedErr
		}
		if err != nil {
			if errors.Is(err, exec.ErrNotFound) || errors.Is(err, os.ErrNotExist) || errors.Is(err, os.ErrPermission) {
				err = fmt.Errorf("%w: %w", ErrNotFound, err)
			}
			return nil, fmt.Errorf("start %s: %w", s.Argv[0], err)
		}
	}
	return c, nil
}

func (c *Child) run(s Spec, ns bool) {
	// The parent-death signal is tied to the THREAD that forked the child:
	// this goroutine keeps its thread until the child is reaped, so the
	// signal cannot fire early. It is unlocked then, not left to end with
	// the goroutine: a locked goroutine that exits takes its thread down,
	// and any other process forked earlier on that thread with a
	// parent-death signal (another child, a server a test started) would
	// be killed with it.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	cmd := exec.Command(s.Argv[0], s.Argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = s.Stdin, s.Stdout, s.Stderr
	if len(s.Env) > 0 {
		cmd.Env = append(os.Environ(), s.Env...)
	}
	attr := &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if ns {
		attr.Cloneflags = syscall.CLONE_NEWPID
	}
	cmd.SysProcAttr = attr
	if err := cmd.Start(); err != nil {
		c.startedErr <- err
		return
	}
	c.cmd, c.pidNS = cmd, ns
	c.startedErr <- nil
	c.err = cmd.Wait()
	close(c.done)
}

// Pid is the child's process ID (in svcdisco's namespace), which is also
// its process group ID.
func (c *Child) Pid() int { return c.cmd.Process.Pid }

// PIDNamespace reports whether CMD runs as PID 1 of its own PID namespace.
func (c *Child) PIDNamespace() bool { return c.pidNS }

// Done is closed when the child has exited.
func (c *Child) Done() <-chan struct{} { return c.done }

// ExitCode is the child's exit status once Done is closed: its exit code,
// or 128+N when killed by signal N (as shells report it).
func (c *Child) ExitCode() int {
	<-c.done
	if c.err == nil {
		return 0
	}
	var exit *exec.ExitError
	if errors.As(c.err, &exit) {
		if ws, ok := exit.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return exit.ExitCode()
	}
	return 1
}

// Signal sends sig to the child's whole process group.
func (c *Child) Signal(sig syscall.Signal) error {
	err := syscall.Kill(-c.Pid(), sig)
	if errors.Is(err, syscall.ESRCH) {
		return nil
	}
	return err
}

// Stop forwards sig to the process group, waits up to killTimeout for the
// child and the rest of its group to exit, then SIGKILLs the group. It
// returns once the child has exited and its group is gone (or has been
// sent SIGKILL).
func (c *Child) Stop(sig syscall.Signal, killTimeout time.Duration) {
	_ = c.Signal(sig)
	deadline := time.NewTimer(killTimeout)
	defer deadline.Stop()
	select {
	case <-c.done:
	case <-deadline.C:
		_ = c.Signal(syscall.SIGKILL)
		<-c.done
		c.reapGroup()
		return
	}
	c.waitGroup(deadline.C)
}

// StopGroup stops what the child left in its process group after the child
// itself exited: SIGTERM, up to killTimeout, then SIGKILL.
func (c *Child) StopGroup(killTimeout time.Duration) {
	<-c.done
	if !c.groupAlive() {
		return
	}
	_ = c.Signal(syscall.SIGTERM)
	deadline := time.NewTimer(killTimeout)
	defer deadline.Stop()
	c.waitGroup(deadline.C)
}

// waitGroup polls until the group is empty or deadline fires, then
// SIGKILLs what is left. The group's members are not our children (they
// are reparented), so there is nothing to wait on but kill(-pgid, 0).
func (c *Child) waitGroup(deadline <-chan time.Time) {
	poll := time.NewTicker(20 * time.Millisecond)
	defer poll.Stop()
	for c.groupAlive() {
		select {
		case <-deadline:
			_ = c.Signal(syscall.SIGKILL)
			c.reapGroup()
			return
		case <-poll.C:
		}
	}
}

// reapGroup waits (briefly, bounded) for SIGKILLed group members to vanish,
// so a caller releasing a lock afterwards does not race a dying process.
func (c *Child) reapGroup() {
	for i := 0; i < 250 && c.groupAlive(); i++ {
		time.Sleep(20 * time.Millisecond)
	}
}

// groupAlive reports whether any live process of the group is left. A
// zombie does not count: it is dead, and waits only for its new parent
// (init, which need not reap promptly in a container) to collect it.
func (c *Child) groupAlive() bool {
	if syscall.Kill(-c.Pid(), 0) != nil {
		return false
	}
	live, err := liveMembers(c.Pid())
	return err != nil || live
}

// liveMembers reports whether /proc lists a process of group pgid that is
// not a zombie.
func liveMembers(pgid int) (bool, error) {
	dirs, err := filepath.Glob("/proc/[0-9]*/stat")
	if err != nil || len(dirs) == 0 {
		return false, fmt.Errorf("no /proc: %v", err)
	}
	for _, d := range dirs {
		b, err := os.ReadFile(d)
		if err != nil {
			continue // gone meanwhile
		}
		// pid (comm) state ppid pgrp …; comm may contain spaces and ')'.
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) < 3 || f[0] == "Z" || f[0] == "X" {
			continue
		}
		if g, err := strconv.Atoi(f[2]); err == nil && g == pgid {
			return true, nil
		}
	}
	return false, nil
}

// Signals is the set of signals that stop a wrapped command.
var Signals = []os.Signal{syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP}
