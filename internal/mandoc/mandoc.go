// Package mandoc generates svcdisco's man pages from the command tree, so
// they never drift from --help (make man, the .deb, the tests).
package mandoc

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra/doc"

	"github.com/svcdisco/svcdisco/internal/build"
	"github.com/svcdisco/svcdisco/internal/cmd/root"
	"github.com/svcdisco/svcdisco/internal/cmdutil"
)

// GenMan writes one page per command into dir. The date comes from
// $SOURCE_DATE_EPOCH when set, so a package build is reproducible.
func GenMan(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f := cmdutil.New(&cmdutil.IOStreams{In: strings.NewReader(""), Out: io.Discard, ErrOut: io.Discard})
	cmd := root.NewCmdRoot(f)
	cmd.DisableAutoGenTag = true
	cmd.InitDefaultCompletionCmd()
	header := &doc.GenManHeader{
		Title:   "SVCDISCO",
		Section: "1",
		Source:  "svcdisco " + build.String(),
		Manual:  "svcdisco manual",
	}
	if err := doc.GenManTree(cmd, header, dir); err != nil {
		return fmt.Errorf("man pages in %s: %w", dir, err)
	}
	return nil
}
