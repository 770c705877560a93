package answercache

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"syscall"
	"time"
)

// maxFile bounds what Load reads: a service's answer is bounded by
// ZooKeeper's 1 MB reply per listing plus each provider's data (at most
// 1 MB each); 256 MiB is far past any real answer and stops a runaway file
// from taking the process's memory.
const maxFile = 256 << 20

// writeAtomic writes data to path through a temporary file in the same
// directory (rename is atomic only within one file system) renamed over the
// old file, so a reader sees the old answer or the new one, never half.
//
// It does not fsync: that costs about 6 ms per answer on this project's
// test machine (ext4), as much again as a whole query, and buys nothing
// here. A crash can at worst leave an empty or cut file, which Load
// rejects (no stale answer for that service until the next good one):
// the cache is a fallback, not a record that must survive.
func writeAtomic(dir, path string, data []byte) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, ".answer-*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return os.Rename(tmp.Name(), path)
}

// readOwn reads path, and when it was last modified, only if it is a
// regular file owned by this user and writable by nobody else (see openOwn).
func readOwn(path string) ([]byte, time.Time, error) {
	f, fi, err := openOwn(path)
	if err != nil {
		return nil, time.Time{}, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFile))
	return data, fi.ModTime(), err
}

// holds reports whether path is our own file holding the answer with
// fingerprint fp, whole: it starts with that fingerprint and ends with it.
// Only those two ends are read.
func holds(path, fp string) bool {
	f, fi, err := openOwn(path)
	if err != nil {
		return false
	}
	defer f.Close()
	head := `{"fingerprint":` + strconv.Quote(fp) + `,`
	tail := `,"complete":` + strconv.Quote(fp) + "}\n"
	if fi.Size() < int64(len(head)+len(tail)) {
		return false
	}
	buf := make([]byte, max(len(head), len(tail)))
	if _, err := f.ReadAt(buf[:len(head)], 0); err != nil || string(buf[:len(head)]) != head {
		return false
	}
	_, err = f.ReadAt(buf[:len(tail)], fi.Size()-int64(len(tail)))
	return err == nil && string(buf[:len(tail)]) == tail
}

// openOwn opens path only if it is a regular file owned by this user and
// writable by nobody else: a stale answer decides where traffic goes, so a
// file planted by another user (a cache directory made world-writable by
// mistake) must not be believed. Symlinks are not followed.
func openOwn(path string) (*os.File, os.FileInfo, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return nil, nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	switch {
	case !fi.Mode().IsRegular():
		err = fmt.Errorf("%s is not a regular file", path)
	case ok && int(st.Uid) != os.Geteuid():
		err = fmt.Errorf("%s is owned by uid %d, not by this user", path, st.Uid)
	case fi.Mode().Perm()&0o022 != 0:
		err = fmt.Errorf("%s is writable by others (mode %04o)", path, fi.Mode().Perm())
	}
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, fi, nil
}
