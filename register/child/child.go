// Package child supervises the command `svcdisco register -- CMD` wraps, in
// the manner of `consul lock`: CMD runs in its own process group so that a
// stop reaches everything it started, and a stop escalates to SIGKILL.
package child

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// Child is a running command.
type Child struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// Start runs argv[0] with argv[1:] in a new process group. Its stdin,
// stdout and stderr are the given files, passed through unchanged (the
// child writes to them directly; nothing is copied or buffered).
func Start(argv []string, stdin io.Reader, stdout, stderr io.Writer) (*Child, error) {
	if len(argv) == 0 {
		return nil, errors.New("no command given")
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, stdout, stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", argv[0], err)
	}
	c := &Child{cmd: cmd, done: make(chan struct{})}
	go func() {
		c.err = cmd.Wait()
		close(c.done)
	}()
	return c, nil
}

// Pid is the child's process ID, which is also its process group ID.
func (c *Child) Pid() int { return c.cmd.Process.Pid }

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
// returns once the child has exited.
func (c *Child) Stop(sig syscall.Signal, killTimeout time.Duration) {
	_ = c.Signal(sig)
	deadline := time.NewTimer(killTimeout)
	defer deadline.Stop()
	select {
	case <-c.done:
	case <-deadline.C:
		_ = c.Signal(syscall.SIGKILL)
		<-c.done
		return
	}
	// The child is gone; give what it started the rest of the grace time.
	poll := time.NewTicker(20 * time.Millisecond)
	defer poll.Stop()
	for c.groupAlive() {
		select {
		case <-deadline.C:
			_ = c.Signal(syscall.SIGKILL)
			return
		case <-poll.C:
		}
	}
}

// groupAlive reports whether any process of the group is left.
func (c *Child) groupAlive() bool {
	return syscall.Kill(-c.Pid(), 0) == nil
}

// Signals is the set of signals that stop a wrapped command.
var Signals = []os.Signal{syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP}
