package register

import (
	"context"
	"fmt"
	"io"
	"os"
	"syscall"
	"time"

	"github.com/svcdisco/svcdisco/register/child"
)

// DefaultKillTimeout is how long a wrapped command has between the
// forwarded signal and SIGKILL.
const DefaultKillTimeout = 10 * time.Second

// WrapInput is a provider held only while a command runs (and is healthy).
type WrapInput struct {
	Keep    KeepInput // Keep.RetryEvery should be set: the command runs regardless
	Command []string
	// KillTimeout is the grace between the forwarded signal and SIGKILL.
	KillTimeout time.Duration
	// Signals delivers the stop signals (SIGTERM, SIGINT, SIGHUP) sent to
	// svcdisco.
	Signals        <-chan os.Signal
	Stdin          io.Reader
	Stdout, Stderr io.Writer
}

// WrapResult is how the wrapped command ended.
type WrapResult struct {
	ExitCode int       // the command's (128+N when killed by signal N)
	Signal   os.Signal // the stop signal svcdisco received, if any
}

// Wrap starts the command in its own process group and keeps the provider
// registered while it runs (once its check is up, if there is one). When
// the command exits, the provider is deregistered. When a stop signal
// arrives, the provider is deregistered FIRST — so clients stop sending
// traffic before the command starts shutting down (drain) — then the signal
// is forwarded to the command's process group, then SIGKILL follows after
// KillTimeout.
func Wrap(ctx context.Context, in WrapInput) (WrapResult, error) {
	if in.KillTimeout <= 0 {
		in.KillTimeout = DefaultKillTimeout
	}
	c, err := child.Start(in.Command, in.Stdin, in.Stdout, in.Stderr)
	if err != nil {
		return WrapResult{ExitCode: 127}, err
	}
	log := in.Keep.Logger
	kctx, stopKeep := context.WithCancel(ctx)
	defer stopKeep()
	keepDone := make(chan error, 1)
	go func() { keepDone <- Keep(kctx, in.Keep) }()

	var sig os.Signal = syscall.SIGTERM
	select {
	case <-c.Done():
		stopKeep()
		kerr := <-keepDone
		c.StopGroup(in.KillTimeout) // nothing CMD left behind outlives it
		log.Info("command exited; deregistered", "command", in.Command[0], "exit_code", c.ExitCode())
		return WrapResult{ExitCode: c.ExitCode()}, kerr
	case kerr := <-keepDone: // registration failed for good
		log.Error("registration failed; stopping the command", "err", kerr)
		c.Stop(syscall.SIGTERM, in.KillTimeout)
		return WrapResult{ExitCode: c.ExitCode()}, kerr
	case s := <-in.Signals:
		sig = s
	case <-ctx.Done():
	}
	stopKeep()
	kerr := <-keepDone // deregistered before the command hears anything
	log.Info("deregistered; forwarding signal to the command", "signal", sig, "kill_timeout", in.KillTimeout)
	ssig, ok := sig.(syscall.Signal)
	if !ok {
		ssig = syscall.SIGTERM
	}
	c.Stop(ssig, in.KillTimeout)
	if kerr != nil {
		kerr = fmt.Errorf("while stopping: %w", kerr)
	}
	return WrapResult{ExitCode: c.ExitCode(), Signal: sig}, kerr
}
