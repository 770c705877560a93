package zkcall

import (
	"context"
	"errors"
	"fmt"
	"go/parser"
	"go/token"
	"io"
	"io/fs"
	"net"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/go-zookeeper/zk"

	"github.com/svcdisco/svcdisco/internal/exitcode"
	"github.com/svcdisco/svcdisco/registry"
)

func TestClassify(t *testing.T) {
	unreachable := []error{
		context.DeadlineExceeded, zk.ErrConnectionClosed, zk.ErrNoServer, zk.ErrSessionExpired, zk.ErrClosing,
		io.EOF, syscall.ECONNRESET, syscall.EPIPE, &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED},
	}
	for _, e := range unreachable {
		err := Classify("h1:2181", fmt.Errorf("prime /x: %w", e))
		if exitcode.Of(err) != exitcode.Unreachable || !errors.Is(err, registry.ErrUnreachable) || !errors.Is(err, e) {
			t.Errorf("%v: exit %d, want 4 matching ErrUnreachable and the cause", err, exitcode.Of(err))
		}
	}
	for _, e := range []error{zk.ErrNoNode, zk.ErrNoAuth, errors.New("boom")} {
		if err := Classify("h1:2181", e); err != e || exitcode.Of(err) != exitcode.Failure {
			t.Errorf("%v: classified as %v (exit %d), want unchanged", e, err, exitcode.Of(err))
		}
	}
}

// TestCommandsDoNotImportGoZookeeper: ZooKeeper errors are classified here
// and in the library packages, never again in a command package.
func TestCommandsDoNotImportGoZookeeper(t *testing.T) {
	fset := token.NewFileSet()
	for _, dir := range []string{"../cmd", "../../cmd"} {
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
				return err
			}
			f, err := parser.ParseFile(fset, p, nil, parser.ImportsOnly)
			if err != nil {
				return err
			}
			for _, imp := range f.Imports {
				if strings.Contains(imp.Path.Value, "github.com/go-zookeeper/zk") {
					t.Errorf("%s imports go-zookeeper", p)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}
