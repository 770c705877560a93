// Package lock is `svcdisco lock`: run a command only while holding an
// exclusive lock and while its required mounts are there, and stop the
// command's whole tree the moment either is lost, before the lock can be
// granted to anyone else. The lock is released only once the command is
// dead.
package lock

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/svcdisco/svcdisco/coord"
	"github.com/svcdisco/svcdisco/internal/exitcode"
	"github.com/svcdisco/svcdisco/register/child"
)

// Input is one `svcdisco lock` run.
type Input struct {
	Locker coord.Locker
	Name   string
	// Limit > 1 takes one of Limit slots of a counting lock through
	// Semaphorer instead of the exclusive lock.
	Limit      int
	Semaphorer coord.Semaphorer
	// Mounts must each be a mount point that answers a stat within
	// StatTimeout, before CMD starts and every CheckInterval while it runs.
	Mounts        []string
	CheckInterval time.Duration // default 1s
	StatTimeout   time.Duration // default DefaultStatTimeout
	// Wait bounds the acquisition when the lock is held elsewhere (0:
	// wait until signalled).
	Wait time.Duration
	// Grace is the time between SIGTERM and SIGKILL (default 5s).
	Grace time.Duration
	// Command is CMD; empty means: print one line when acquired and hold
	// until signalled.
	Command []string
	// Signals delivers SIGTERM/SIGINT/SIGHUP sent to svcdisco.
	Signals <-chan os.Signal
	// ReleaseTimeout bounds the release (default 5s).
	ReleaseTimeout time.Duration
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	Logger         *slog.Logger
}

// Result is how the run ended.
type Result struct {
	Token    int64 // the fencing token of the hold (0 if never acquired)
	ExitCode int   // CMD's exit code (when CMD ran and exited on its own)
}

// negotiator is implemented by holds whose loss leaves a bounded time to
// stop the child (ZooKeeper: a quarter of the negotiated session timeout).
type negotiator interface{ KillBudget() time.Duration }

// Run acquires the lock, checks the mounts, runs CMD (or holds), and
// releases. The error carries the documented exit code: 10 not acquired in
// time, 11 lock lost, 12 mount missing, 4 registry unreachable, CMD's own
// code when CMD failed, 127 when CMD cannot be started.
func Run(ctx context.Context, in Input) (Result, error) {
	in.defaults()
	log := in.Logger.With("lock", in.Name)
	actx, cancel := context.WithCancel(ctx)
	defer cancel()
	if in.Wait > 0 {
		actx, cancel = context.WithTimeout(ctx, in.Wait)
		defer cancel()
	}
	log.Info("waiting for the lock", "wait", in.Wait)
	h, signalled, err := in.acquire(actx, cancel)
	if err != nil {
		return Result{}, err
	}
	if signalled {
		if h != nil {
			release(h, in.ReleaseTimeout, log, h.Token())
		}
		return Result{}, nil
	}
	res := Result{Token: h.Token()}
	defer release(h, in.ReleaseTimeout, log, res.Token)
	for _, m := range in.Mounts {
		if err := CheckMount(ctx, m, in.StatTimeout); err != nil {
			return res, fmt.Errorf("lock %s: not starting: %w", in.Name, err)
		}
	}
	stop, why := in.monitor(ctx, h)
	if len(in.Command) == 0 {
		fmt.Fprintf(in.Stdout, "locked %s token %d\n", in.Name, res.Token)
		select {
		case <-stop:
			return res, why()
		case <-in.Signals:
			return res, nil
		case <-ctx.Done():
			return res, nil
		}
	}
	return in.runCommand(ctx, h, res, stop, why)
}

// acquire takes the lock within actx; a stop signal while waiting cancels
// the wait (signalled, and no error). A signal that arrives just as the
// lock is acquired is not lost: signalled is true with the hold.
func (in *Input) acquire(actx context.Context, cancel context.CancelFunc) (coord.Hold, bool, error) {
	sig := make(chan struct{})
	stop, watcherDone := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(watcherDone)
		select {
		case <-in.Signals:
			close(sig)
			cancel()
		case <-stop:
		}
	}()
	var h coord.Hold
	var err error
	if in.Limit > 1 {
		h, err = in.Semaphorer.Semaphore(actx, in.Name, in.Limit)
	} else {
		h, err = in.Locker.Lock(actx, in.Name)
	}
	close(stop)
	<-watcherDone
	select {
	case <-sig:
		if err != nil {
			return nil, true, nil
		}
		return h, true, nil
	default:
	}
	return h, false, err
}

func release(h coord.Hold, timeout time.Duration, log *slog.Logger, token int64) {
	rctx, rcancel := context.WithTimeout(context.Background(), timeout)
	defer rcancel()
	if err := h.Release(rctx); err != nil {
		log.Warn("release failed; the lock goes with the session", "err", err)
		return
	}
	log.Info("lock released", "token", token)
}

func (in *Input) runCommand(ctx context.Context, h coord.Hold, res Result, stop <-chan struct{}, why func() error) (Result, error) {
	stopGrace := in.Grace
	if n, ok := h.(negotiator); ok && n.KillBudget() < stopGrace {
		stopGrace = n.KillBudget()
	}
	cr, err := child.Run(ctx, child.RunInput{
		Spec: child.Spec{
			Argv:   in.Command,
			Env:    []string{"SVCDISCO_LOCK_NAME=" + in.Name, "SVCDISCO_LOCK_TOKEN=" + strconv.FormatInt(res.Token, 10)},
			Stdin:  in.Stdin,
			Stdout: in.Stdout,
			Stderr: in.Stderr,
		},
		Grace:     in.Grace,
		StopGrace: stopGrace,
		Signals:   in.Signals,
		Stop:      stop,
		Logger:    in.Logger,
	})
	res.ExitCode = cr.ExitCode
	if err != nil {
		return res, exitcode.New(127, err)
	}
	switch cr.Cause {
	case child.Stopped:
		return res, why()
	case child.Exited:
		if cr.ExitCode != 0 {
			return res, exitcode.New(cr.ExitCode, fmt.Errorf("%s exited with code %d", in.Command[0], cr.ExitCode))
		}
	}
	return res, nil
}

// monitor closes stop when the hold is lost or a mount check fails; why
// then says which (an error with exit code 11 or 12).
func (in *Input) monitor(ctx context.Context, h coord.Hold) (<-chan struct{}, func() error) {
	stop := make(chan struct{})
	var (
		mu     sync.Mutex
		reason error
	)
	fire := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		if reason == nil {
			reason = err
			close(stop)
		}
	}
	go func() {
		var tick <-chan time.Time
		if len(in.Mounts) > 0 {
			t := time.NewTicker(in.CheckInterval)
			defer t.Stop()
			tick = t.C
		}
		for {
			select {
			case <-h.Lost():
				err := h.LostReason()
				if errors.Is(err, coord.ErrReleased) {
					return
				}
				fire(exitcode.New(exitcode.LockLost, fmt.Errorf("lock %s: %w", in.Name, err)))
				return
			case <-tick:
				for _, m := range in.Mounts {
					if err := CheckMount(ctx, m, in.StatTimeout); err != nil && ctx.Err() == nil {
						fire(fmt.Errorf("lock %s: stopping: %w", in.Name, err))
						return
					}
				}
			case <-ctx.Done():
				return
			}
		}
	}()
	return stop, func() error {
		mu.Lock()
		defer mu.Unlock()
		return reason
	}
}

func (in *Input) defaults() {
	if in.CheckInterval <= 0 {
		in.CheckInterval = time.Second
	}
	if in.StatTimeout <= 0 {
		in.StatTimeout = DefaultStatTimeout
	}
	if in.Grace <= 0 {
		in.Grace = child.DefaultGrace
	}
	if in.ReleaseTimeout <= 0 {
		in.ReleaseTimeout = 5 * time.Second
	}
	if in.Logger == nil {
		in.Logger = slog.Default()
	}
	if in.Stdout == nil {
		in.Stdout = io.Discard
	}
}
