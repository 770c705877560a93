// Package elect is `svcdisco elect`: contend for the leadership of a group
// and either report every change or run a command only while leading
// (active/standby), with the same stop rules as a lock.
package elect

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"time"

	"github.com/svcdisco/svcdisco/coord"
	"github.com/svcdisco/svcdisco/internal/exitcode"
	"github.com/svcdisco/svcdisco/register/child"
	"github.com/svcdisco/svcdisco/registry"
)

// Input is one contender.
type Input struct {
	Elector coord.Elector
	Group   string
	Me      registry.Provider
	// Command, when set, runs only while this contender leads.
	Command []string
	// Grace is the time between a forwarded signal and SIGKILL.
	Grace time.Duration
	// Signals are the stop signals svcdisco receives.
	Signals <-chan os.Signal
	// Out receives one JSON line per change when there is no Command.
	Out            io.Writer
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	NoPIDNamespace bool
	Timeout        time.Duration // bounds joining and resigning
	Logger         *slog.Logger
	// Joined, when set, is called with the candidacy once it is written
	// (e.g. to set its mirror on a configuration reload).
	Joined func(coord.Candidacy)
	// OnCandidate, when set, is called once the candidacy stands (a
	// service manager's "ready": leading or standing by).
	OnCandidate func()
}

// Change is the JSON line printed on every change without a command.
type Change struct {
	Leader bool   `json:"leader"`
	ID     string `json:"id"`
	Token  int64  `json:"token"`
}

// Result is how a contender ended.
type Result struct {
	// ExitCode is the command's (0 without one, or when stopped by a
	// signal before or while leading).
	ExitCode int
	// Lost is set when the command was stopped because the term was lost
	// (it wraps coord.ErrLost).
	Lost error
}

// Run contends until a stop signal, ctx's end, or (with a command) the end
// of the command or of its term.
func Run(ctx context.Context, in Input) (Result, error) {
	if in.Logger == nil {
		in.Logger = slog.Default()
	}
	if in.Me.ID == "" {
		in.Me.ID = registry.DefaultID(in.Group, in.Me.Host, in.Me.Port)
	}
	jctx, cancel := context.WithTimeout(ctx, in.Timeout)
	cand, err := in.Elector.Campaign(jctx, in.Group, in.Me)
	cancel()
	if err != nil {
		return Result{}, err
	}
	defer resign(in, cand)
	if in.Joined != nil {
		in.Joined(cand)
	}
	if in.OnCandidate != nil {
		in.OnCandidate()
	}
	if in.Command == nil {
		return Result{}, report(ctx, in, cand)
	}
	return supervise(ctx, in, cand)
}

func resign(in Input, cand coord.Candidacy) {
	ctx, cancel := context.WithTimeout(context.Background(), in.Timeout)
	defer cancel()
	if err := cand.Resign(ctx); err != nil {
		in.Logger.Warn("could not resign; the candidacy ends with the session", "group", in.Group, "err", err)
	}
}

// report prints a line when joined (not leading), when elected and when
// the term ends, until signalled.
func report(ctx context.Context, in Input, cand coord.Candidacy) error {
	enc := json.NewEncoder(in.Out)
	write := func(c Change) error {
		if err := enc.Encode(c); err != nil {
			return fmt.Errorf("elect: write: %w", err)
		}
		return nil
	}
	if err := write(Change{ID: in.Me.ID}); err != nil {
		return err
	}
	for {
		var term *coord.Term
		select {
		case term = <-cand.Terms():
		case <-in.Signals:
			return nil
		case <-ctx.Done():
			return nil
		}
		if term == nil {
			return candidacyEnded(in.Group, cand)
		}
		if err := write(Change{Leader: true, ID: in.Me.ID, Token: term.Token()}); err != nil {
			return err
		}
		select {
		case <-term.Lost():
			in.Logger.Warn("leadership lost", "group", in.Group, "reason", term.LostReason())
		case <-in.Signals:
			return nil
		case <-ctx.Done():
			return nil
		}
		if err := write(Change{ID: in.Me.ID, Token: term.Token()}); err != nil {
			return err
		}
	}
}

// supervise waits for leadership, then runs the command while the term
// lasts. A lost term stops the command (SIGTERM to its group, StopGrace,
// SIGKILL) and ends the contender, as a Mesos master does: whatever runs
// it (systemd) starts it again as a standby.
func supervise(ctx context.Context, in Input, cand coord.Candidacy) (Result, error) {
	in.Logger.Info("standing by for leadership", "group", in.Group, "id", in.Me.ID)
	var term *coord.Term
	select {
	case term = <-cand.Terms():
	case <-in.Signals:
		return Result{}, nil
	case <-ctx.Done():
		return Result{}, nil
	}
	if term == nil {
		return Result{}, candidacyEnded(in.Group, cand)
	}
	if term.Ended() { // lost before it could start: CMD never runs
		return Result{Lost: term.LostReason()}, nil
	}
	in.Logger.Info("leading; starting the command", "group", in.Group, "token", term.Token())
	res, err := child.Run(ctx, child.RunInput{
		Spec: child.Spec{
			Argv: in.Command,
			Env: []string{
				"SVCDISCO_ELECT_GROUP=" + in.Group,
				"SVCDISCO_ELECT_TOKEN=" + strconv.FormatInt(term.Token(), 10),
			},
			Stdin: in.Stdin, Stdout: in.Stdout, Stderr: in.Stderr,
			NoPIDNamespace: in.NoPIDNamespace,
		},
		Grace:   in.Grace,
		Signals: in.Signals,
		Stop:    term.Lost(),
		// The command must be dead before the backend can elect
		// someone else: a lost term leaves only the kill budget.
		StopGrace: term.KillBudget(),
		Logger:    in.Logger,
	})
	if err != nil { // could not start: 127, as a shell says
		return Result{ExitCode: res.ExitCode}, exitcode.New(res.ExitCode, fmt.Errorf("elect %s: %w", in.Group, err))
	}
	switch res.Cause {
	case child.Stopped:
		return Result{ExitCode: res.ExitCode, Lost: term.LostReason()}, nil
	case child.Signalled:
		return Result{}, nil
	}
	return Result{ExitCode: res.ExitCode}, nil
}

func candidacyEnded(group string, cand coord.Candidacy) error {
	if err := cand.Err(); err != nil {
		return fmt.Errorf("elect %s: candidacy ended: %w", group, err)
	}
	return fmt.Errorf("elect %s: candidacy ended", group)
}
