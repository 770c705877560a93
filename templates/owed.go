package templates

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/svcdisco/svcdisco/internal/exitcode"
	"github.com/svcdisco/svcdisco/templates/renderer"
)

// owedMarker is the file that remembers, across runs, that a template's
// reload command failed after its destination changed: the destination is
// then already up to date, so without the marker the next pass would find
// it "unchanged" and the service would never be reloaded. It lives beside
// the destination (hidden, so include globs like conf.d/*.conf skip it).
func owedMarker(dest string) string {
	dir, base := filepath.Split(dest)
	return filepath.Join(dir, "."+base+".svcdisco-command-owed")
}

// commandOwed reports whether an earlier pass left the command owed.
func commandOwed(dest string) bool {
	_, err := os.Stat(owedMarker(dest))
	return err == nil
}

// runCommand runs t's reload command, remembering it as owed when it
// fails and forgetting it when it succeeds. owed says the command is run
// for an earlier pass (the file itself is unchanged now).
func (t *Template) runCommand(ctx context.Context, res *Result, out io.Writer, owed bool) {
	if out == nil {
		out = io.Discard
	}
	marker := owedMarker(t.Destination)
	err := renderer.RunCommand(ctx, t.Command, out)
	if err == nil {
		res.Command = "ok"
		if owed {
			res.Reason = fmt.Sprintf("ran command %q owed from an earlier pass", t.Command)
		}
		if rerr := os.Remove(marker); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
			res.Reason = fmt.Sprintf("command ran, but its owed marker stays: %v", rerr)
		}
		return
	}
	res.Command, res.Code = "failed", exitcode.Failure
	res.Err = err
	res.Reason = err.Error()
	if owed {
		res.Reason = fmt.Sprintf("command %q owed from an earlier pass failed again: %v", t.Command, err)
	}
	if werr := os.WriteFile(marker, []byte(t.Command+"\n"), 0o600); werr != nil {
		res.Reason += fmt.Sprintf("; could not remember it is owed: %v", werr)
		return
	}
	res.Reason += "; owed: it runs again on the next pass"
}
