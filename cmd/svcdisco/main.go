// Command svcdisco is the service-discovery CLI. It only wires the command
// tree to the process: everything else lives in importable packages.
package main

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/svcdisco/svcdisco/internal/cmd/root"
	"github.com/svcdisco/svcdisco/internal/cmdutil"
	"github.com/svcdisco/svcdisco/internal/exitcode"
	"github.com/svcdisco/svcdisco/registry"
)

func main() {
	os.Exit(runMain())
}

func runMain() int {
	f := cmdutil.New(cmdutil.System())
	cmd := root.NewCmdRoot(f)
	err := cmd.ExecuteContext(context.Background())
	if err == nil {
		return exitcode.OK
	}
	code := exitcode.Of(err)
	if code == exitcode.Failure && isCobraUsage(err) {
		code = exitcode.Usage
	}
	fmt.Fprintf(os.Stderr, "svcdisco: %s\n", registry.Scrub(oneLine(err.Error())))
	return code
}

// isCobraUsage spots the argument errors cobra raises itself.
func isCobraUsage(err error) bool {
	msg := err.Error()
	return strings.HasPrefix(msg, "unknown command") || strings.HasPrefix(msg, "required flag") ||
		strings.HasPrefix(msg, "invalid argument") || strings.Contains(msg, "unknown flag")
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
