// Package renderer puts rendered contents in place without ever leaving a
// destination half-written: the new contents are staged in a temporary file
// beside the destination, optionally validated by a check command (confd's
// check_cmd), and renamed over the destination only when everything
// succeeded. Its shape follows consul-template's renderer.Render.
package renderer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
)

// DefaultPerms is the mode of a new destination when none is configured.
const DefaultPerms fs.FileMode = 0o644

// StagedEnv names the environment variable holding the staged file's path
// while the check command runs.
const StagedEnv = "SVCDISCO_STAGED"

// RenderInput is one file to put in place.
type RenderInput struct {
	// Path is the destination.
	Path string
	// Contents are the new contents.
	Contents []byte
	// Perms is the destination's mode. Zero keeps the existing file's mode,
	// or DefaultPerms for a new file.
	Perms fs.FileMode
	// Backup keeps the previous contents as Path+".bak" when they change.
	Backup bool
	// CreateDestDirs creates missing parent directories (0755).
	CreateDestDirs bool
	// CheckCommand validates the staged file before it replaces Path. It runs
	// through sh -c with "{{.}}" replaced by the staged file's (quoted) path,
	// which is also in $SVCDISCO_STAGED. Non-zero exit: Path is untouched
	// and the error is a *CheckError.
	CheckCommand string
	// DryRun computes the result and the diff and writes nothing.
	DryRun bool
}

// RenderResult says what happened.
type RenderResult struct {
	// WouldRender is true when the contents differ from the destination.
	WouldRender bool
	// DidRender is true when the destination was replaced.
	DidRender bool
	// Diff is a unified diff from the current file to the new contents
	// (filled in a dry run only).
	Diff string
}

// CheckError is returned when the check command rejected the staged file.
type CheckError struct {
	Command string
	Err     error
	Output  string
}

func (e *CheckError) Error() string {
	msg := fmt.Sprintf("check command %q rejected the new file: %v", e.Command, e.Err)
	if out := strings.TrimSpace(e.Output); out != "" {
		msg += ": " + strings.Join(strings.Fields(lastLine(out)), " ")
	}
	return msg
}

func (e *CheckError) Unwrap() error { return e.Err }

func lastLine(s string) string {
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// Render puts in.Contents at in.Path unless they are already there. The
// check command, if any, honours ctx. A symlinked Path is followed: the
// link's final target is written (staged in the target's own directory,
// so the rename stays atomic) and the link is left in place, as
// consul-template does; a backup goes beside the target.
func Render(ctx context.Context, in *RenderInput) (*RenderResult, error) {
	target, err := FollowLinks(in.Path)
	if err != nil {
		return nil, err
	}
	cp := *in
	cp.Path = target
	return renderTo(ctx, &cp)
}

func renderTo(ctx context.Context, in *RenderInput) (*RenderResult, error) {
	old, oldInfo, err := current(in.Path)
	if err != nil {
		return nil, err
	}
	res := &RenderResult{WouldRender: oldInfo == nil || !bytes.Equal(old, in.Contents)}
	if in.DryRun {
		if res.WouldRender {
			res.Diff = Diff(in.Path, old, in.Contents)
		}
		return res, nil
	}
	if !res.WouldRender {
		return res, nil
	}
	perms := in.Perms
	if perms == 0 {
		perms = DefaultPerms
		if oldInfo != nil {
			perms = oldInfo.Mode().Perm()
		}
	}
	dir := filepath.Dir(in.Path)
	if in.CreateDestDirs {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("create directory for %s: %w", in.Path, err)
		}
	}
	if in.Backup && oldInfo != nil {
		if err := writeAtomic(ctx, in.Path+".bak", old, oldInfo.Mode().Perm(), oldInfo, ""); err != nil {
			return nil, fmt.Errorf("backup %s: %w", in.Path, err)
		}
	}
	if err := writeAtomic(ctx, in.Path, in.Contents, perms, oldInfo, in.CheckCommand); err != nil {
		return nil, err
	}
	res.DidRender = true
	return res, nil
}

// maxLinks bounds symlink chains, as the kernel's ELOOP does.
const maxLinks = 40

// FollowLinks returns the file path finally names, following symlinks
// (including one whose target does not exist yet, which is then created).
// A path that is not a symlink is returned as is.
func FollowLinks(path string) (string, error) {
	p := path
	for i := 0; i < maxLinks; i++ {
		info, err := os.Lstat(p)
		if err != nil || info.Mode()&fs.ModeSymlink == 0 {
			return p, nil // missing or not a link: write it here
		}
		dest, err := os.Readlink(p)
		if err != nil {
			return "", fmt.Errorf("destination %s: %w", path, err)
		}
		if !filepath.IsAbs(dest) {
			dest = filepath.Join(filepath.Dir(p), dest)
		}
		p = dest
	}
	return "", fmt.Errorf("destination %s: more than %d symlinks", path, maxLinks)
}

// current reads the destination; a missing file is (nil, nil, nil).
func current(path string) ([]byte, fs.FileInfo, error) {
	info, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("stat %s: %w", path, err)
	}
	if !info.Mode().IsRegular() {
		return nil, nil, fmt.Errorf("destination %s is not a regular file", path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("read %s: %w", path, err)
	}
	return b, info, nil
}

// writeAtomic stages contents in a temporary file in path's directory — the
// same file system, so the final rename is atomic: readers see the old file
// or the new one, never a mix — fsyncs it, applies perms (and the previous
// owner, when we may), runs the check command on it, renames it over path
// and fsyncs the directory so the rename survives a crash.
func writeAtomic(ctx context.Context, path string, contents []byte, perms fs.FileMode, prev fs.FileInfo, check string) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".svcdisco-*")
	if err != nil {
		return fmt.Errorf("stage %s: %w", path, err)
	}
	staged := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(staged)
		}
	}()
	if _, err = f.Write(contents); err != nil {
		return fmt.Errorf("stage %s: %w", path, err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("stage %s: fsync: %w", path, err)
	}
	if err = f.Chmod(perms); err != nil {
		return fmt.Errorf("stage %s: chmod: %w", path, err)
	}
	keepOwner(f, prev)
	if err = f.Close(); err != nil {
		return fmt.Errorf("stage %s: %w", path, err)
	}
	if check != "" {
		if err = runCheck(ctx, check, staged); err != nil {
			return err
		}
	}
	if err = os.Rename(staged, path); err != nil {
		return fmt.Errorf("replace %s: %w", path, err)
	}
	return syncDir(dir)
}

// keepOwner gives the new file the old one's owner and group. Only root may
// do that in general; anyone else keeps their own ownership, as
// consul-template does.
func keepOwner(f *os.File, prev fs.FileInfo) {
	if prev == nil {
		return
	}
	if st, ok := prev.Sys().(*syscall.Stat_t); ok {
		_ = f.Chown(int(st.Uid), int(st.Gid))
	}
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("fsync %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("fsync %s: %w", dir, err)
	}
	return nil
}

func runCheck(ctx context.Context, command, staged string) error {
	line := strings.ReplaceAll(command, "{{.}}", ShellQuote(staged))
	cmd := exec.CommandContext(ctx, "sh", "-c", line)
	cmd.Env = append(os.Environ(), StagedEnv+"="+staged)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.WaitDelay = waitDelay
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("check command %q: %w", command, ctx.Err())
		}
		return &CheckError{Command: command, Err: err, Output: out.String()}
	}
	return nil
}

// RunCommand runs a reload command through sh -c, its output going to w.
func RunCommand(ctx context.Context, command string, w io.Writer) error {
	cmd := exec.CommandContext(ctx, "sh", "-c", command)
	cmd.Stdout, cmd.Stderr = w, w
	cmd.WaitDelay = waitDelay
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("command %q: %w", command, ctx.Err())
		}
		return fmt.Errorf("command %q: %w", command, err)
	}
	return nil
}

// ShellQuote quotes s for sh.
func ShellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
