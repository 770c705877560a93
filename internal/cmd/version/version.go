// Package version is `svcdisco version`.
package version

import (
	"fmt"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/svcdisco/svcdisco/internal/build"
	"github.com/svcdisco/svcdisco/internal/cmdutil"
)

// NewCmdVersion prints the version.
func NewCmdVersion(f *cmdutil.Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print svcdisco's version",
		Args:  cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			_, err := fmt.Fprintln(f.IO.Out, Line())
			return err
		},
	}
}

// Line is the version line: svcdisco VERSION (GO, OS/ARCH).
func Line() string {
	return fmt.Sprintf("svcdisco %s (%s, %s/%s)", build.String(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
