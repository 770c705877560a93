package renderer

import (
	"strings"
	"time"

	"github.com/pmezard/go-difflib/difflib"
)

// waitDelay bounds how long a command's output pipes are drained after its
// context ends, so a child that forked a daemon cannot hang svcdisco.
const waitDelay = 2 * time.Second

// Diff is a unified diff (3 lines of context) from old to new contents of
// path, as `diff -u` prints it.
func Diff(path string, old, new []byte) string {
	d, err := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
		A:        lines(old),
		B:        lines(new),
		FromFile: path,
		ToFile:   path + " (rendered)",
		Context:  3,
	})
	if err != nil { // only on a failing writer, which a string builder is not
		return ""
	}
	return d
}

// lines splits b into lines that each end in "\n" (difflib.SplitLines adds
// a spurious empty last line).
func lines(b []byte) []string {
	ls := strings.SplitAfter(string(b), "\n")
	if ls[len(ls)-1] == "" {
		ls = ls[:len(ls)-1]
	} else {
		ls[len(ls)-1] += "\n"
	}
	return ls
}
