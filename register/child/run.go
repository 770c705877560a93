package child

import (
	"context"
	"log/slog"
	"os"
	"syscall"
	"time"
)

// DefaultGrace is the default time between the stop signal and SIGKILL.
const DefaultGrace = 5 * time.Second

// RunInput is a command to supervise until it exits, svcdisco is
// signalled, or Stop fires.
type RunInput struct {
	Spec
	// Grace is the time between the stop signal and SIGKILL (default
	// DefaultGrace), also given to what CMD leaves in its group when it
	// exits.
	Grace time.Duration
	// Signals delivers the signals svcdisco received (SIGTERM, SIGINT,
	// SIGHUP): the first one is forwarded to CMD's group.
	Signals <-chan os.Signal
	// Stop, when closed, stops CMD: SIGTERM to its group, StopGrace, then
	// SIGKILL. A lost lock or leadership closes it.
	Stop <-chan struct{}
	// StopGrace bounds the grace of a stop caused by Stop (0: Grace). A
	// lost ZooKeeper session leaves only part of the session timeout for
	// the child to die in.
	StopGrace time.Duration
	Logger    *slog.Logger
}

// Cause is what ended a supervised command.
type Cause int

const (
	Exited    Cause = iota // CMD exited on its own
	Signalled              // svcdisco received a stop signal (or ctx ended)
	Stopped                // the Stop trigger fired
)

// RunResult is how a supervised command ended.
type RunResult struct {
	ExitCode int       // CMD's (128+N when killed by signal N)
	Cause    Cause     // what ended it
	Signal   os.Signal // the signal svcdisco received, when Cause == Signalled
}

// Run starts CMD and supervises it. It returns only when CMD has exited
// AND nothing is left of its process group (or PID namespace), so a caller
// may release a lock as soon as Run returns. A CMD that cannot be started
// gives exit code 127 and an error wrapping ErrNotFound when it does not
// exist.
func Run(ctx context.Context, in RunInput) (RunResult, error) {
	if in.Grace <= 0 {
		in.Grace = DefaultGrace
	}
	if in.StopGrace <= 0 || in.StopGrace > in.Grace {
		in.StopGrace = in.Grace
	}
	log := in.Logger
	if log == nil {
		log = slog.Default()
	}
	c, err := StartSpec(in.Spec)
	if err != nil {
		return RunResult{ExitCode: 127}, err
	}
	log.Debug("command started", "command", in.Argv[0], "pid", c.Pid(), "pid_namespace", c.PIDNamespace())
	select {
	case <-c.Done():
		c.StopGroup(in.Grace)
		return RunResult{ExitCode: c.ExitCode(), Cause: Exited}, nil
	case <-in.Stop:
		log.Warn("stopping the command", "command", in.Argv[0], "grace", in.StopGrace)
		c.Stop(syscall.SIGTERM, in.StopGrace)
		return RunResult{ExitCode: c.ExitCode(), Cause: Stopped}, nil
	case s := <-in.Signals:
		ssig, ok := s.(syscall.Signal)
		if !ok {
			ssig = syscall.SIGTERM
		}
		log.Info("forwarding signal to the command", "signal", s, "grace", in.Grace)
		c.Stop(ssig, in.Grace)
		return RunResult{ExitCode: c.ExitCode(), Cause: Signalled, Signal: s}, nil
	case <-ctx.Done():
		c.Stop(syscall.SIGTERM, in.Grace)
		return RunResult{ExitCode: c.ExitCode(), Cause: Signalled}, nil
	}
}
