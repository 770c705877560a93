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
	if code == exitcode.Unreachable && f.Config != nil && f.Config.Registry == registry.DefaultURL {
		fmt.Fprintln(os.Stderr, defaultRegistryHint)
	}
	return code
}

// defaultRegistryHint follows "unreachable" when no registry was
// configured: a newcomer's first command most likely met no ZooKeeper.
const defaultRegistryHint = "svcdisco: hint: no registry configured, so " + registry.DefaultURL + " was tried; set --registry " +
	"(or SVCDISCO_REGISTRY, or registry: in /etc/svcdisco/svcdisco.yaml), or run `make demo` for a local ZooKeeper"

// isCobraUsage spots the argument errors cobra raises itself.
func isCobraUsage(err error) bool {
	msg := err.Error()
	return strings.HasPrefix(msg, "unknown command") || strings.HasPrefix(msg, "required flag") ||
		strings.HasPrefix(msg, "invalid argument") || strings.Contains(msg, "unknown flag")
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
