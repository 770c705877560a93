package lock

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/svcdisco/svcdisco/internal/exitcode"
)

// DefaultStatTimeout bounds each stat of a required mount: a hung NFS
// mount that does not answer within it counts as gone.
const DefaultStatTimeout = 2 * time.Second

// ErrMountMissing is wrapped by every failed mount check (exit 12).
var ErrMountMissing = errors.New("required mount missing")

// CheckMount reports whether path is a mount point that answers: its device
// differs from its parent's, or /proc/self/mountinfo lists it as a mount
// point (a bind mount of the same device), and its stat (and its parent's)
// answers within bound. A stat that does not answer in time is abandoned: it
// may stay blocked in the kernel, but svcdisco no longer waits for it.
func CheckMount(ctx context.Context, path string, bound time.Duration) error {
	if bound <= 0 {
		bound = DefaultStatTimeout
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return mountErr(path, err)
	}
	type result struct {
		dev, parentDev uint64
		err            error
	}
	ch := make(chan result, 1)
	go func() {
		var st, pst syscall.Stat_t
		if err := syscall.Stat(abs, &st); err != nil {
			ch <- result{err: err}
			return
		}
		if st.Mode&syscall.S_IFMT != syscall.S_IFDIR {
			ch <- result{err: errors.New("not a directory")}
			return
		}
		if err := syscall.Stat(filepath.Dir(abs), &pst); err != nil {
			ch <- result{err: err}
			return
		}
		ch <- result{dev: st.Dev, parentDev: pst.Dev}
	}()
	t := time.NewTimer(bound)
	defer t.Stop()
	var res result
	select {
	case res = <-ch:
	case <-t.C:
		return mountErr(path, fmt.Errorf("stat did not answer within %v", bound))
	case <-ctx.Done():
		return ctx.Err()
	}
	if res.err != nil {
		return mountErr(path, res.err)
	}
	if abs == "/" || res.dev != res.parentDev {
		return nil
	}
	listed, err := inMountinfo(abs)
	if err != nil {
		return mountErr(path, err)
	}
	if !listed {
		return mountErr(path, errors.New("not a mount point"))
	}
	return nil
}

func mountErr(path string, err error) error {
	return exitcode.New(exitcode.MountMissing, fmt.Errorf("%w: %s: %v", ErrMountMissing, path, err))
}

// inMountinfo reports whether /proc/self/mountinfo lists p as a mount point
// (field 5, with spaces and other specials octal-escaped).
func inMountinfo(p string) (bool, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return false, fmt.Errorf("read mount table: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 4 && unescapeMount(fields[4]) == p {
			return true, nil
		}
	}
	return false, sc.Err()
}

// unescapeMount undoes the kernel's \ooo escapes in mountinfo paths.
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			var v int
			if _, err := fmt.Sscanf(s[i+1:i+4], "%3o", &v); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
