// Package testcli runs the svcdisco command tree in-process for end-to-end
// tests: the same flags, config loading and exit codes as the binary, with
// captured streams.
package testcli

import (
	"bytes"
	"context"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/svcdisco/svcdisco/internal/cmd/root"
	"github.com/svcdisco/svcdisco/internal/cmdutil"
	"github.com/svcdisco/svcdisco/internal/exitcode"
)

// Result is a finished command.
type Result struct {
	Out, Err string
	Code     int
	Error    error
}

// Run runs `svcdisco args…` with stdin and waits for it.
func Run(ctx context.Context, stdin string, args ...string) Result {
	out, errOut := &Buffer{}, &Buffer{}
	err := execute(ctx, strings.NewReader(stdin), out, errOut, args)
	return Result{Out: out.String(), Err: errOut.String(), Code: exitcode.Of(err), Error: err}
}

func execute(ctx context.Context, in io.Reader, out, errOut io.Writer, args []string) error {
	f := cmdutil.New(&cmdutil.IOStreams{In: in, Out: out, ErrOut: errOut})
	cmd := root.NewCmdRoot(f)
	cmd.SetArgs(args)
	return cmd.ExecuteContext(ctx)
}

// Proc is a command running in the background (register, agent, …).
type Proc struct {
	Out, Err *Buffer
	cancel   context.CancelFunc
	done     chan struct{}
	err      error
}

// Start runs `svcdisco args…` until Stop (or the end of t).
func Start(t testing.TB, args ...string) *Proc {
	ctx, cancel := context.WithCancel(context.Background())
	p := &Proc{Out: &Buffer{}, Err: &Buffer{}, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		p.err = execute(ctx, strings.NewReader(""), p.Out, p.Err, args)
	}()
	t.Cleanup(func() { p.Stop() })
	return p
}

// Stop cancels the command (as SIGTERM would) and returns its error.
func (p *Proc) Stop() error {
	p.cancel()
	<-p.done
	return p.err
}

// Done is closed when the command has returned.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Buffer is a bytes.Buffer safe for one writer and concurrent readers.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
