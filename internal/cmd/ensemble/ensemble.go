// Package ensemble is `svcdisco ensemble`: the one way for recipes to get
// the ZooKeeper connection string (Exhibitor → cache → backup).
package ensemble

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/svcdisco/svcdisco/internal/cmdutil"
	"github.com/svcdisco/svcdisco/internal/exitcode"
	"github.com/svcdisco/svcdisco/query"
	"github.com/svcdisco/svcdisco/registry"
	"github.com/svcdisco/svcdisco/registry/dial"
)

// fromURL is --chroot's value when given without one: the registry URL's
// chroot. A real chroot starts with "/", so it cannot be mistaken for one.
const fromURL = "url"

// Options is everything `ensemble` needs.
type Options struct {
	F *cmdutil.Factory
	// Chroot is "" (none), fromURL, or a path to append.
	Chroot string
	Output string
}

// Result is what -o json prints.
type Result struct {
	ConnectString string   `json:"connect_string"`
	Servers       []string `json:"servers"`
	Chroot        string   `json:"chroot"`
	Source        string   `json:"source"` // exhibitor, cache, backup or static
	Origin        string   `json:"origin"` // Exhibitor host, cache file or "registry URL"
}

// NewCmdEnsemble parses flags into Options and hands them to runF (or Run).
func NewCmdEnsemble(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{F: f}
	cmd := &cobra.Command{
		Use:   "ensemble",
		Short: "Print the ZooKeeper connection string (Exhibitor, else cache, else backup)",
		Long: `Print the ZooKeeper connection string of the configured registry, hosts
sorted so that a template using it only changes when the ensemble does.

For exhibitor:// registries the ensemble comes from Exhibitor; when no
Exhibitor answers validly, from the last good answer cached on disk
(--ensemble-cache); else from the URL's ?backup= list. Each fall back is
logged on stderr with its reason. When all fail, svcdisco exits 4 naming
each source and why; it never prints an empty string or falls back to
localhost. For zk:// registries it prints the URL's own hosts.

--chroot appends the registry URL's chroot; --chroot=/path appends that
path instead (note the '=').

Exit codes: 0 ok, 2 invalid input, 4 no source gave an ensemble.`,
		Example: `  svcdisco ensemble --registry 'exhibitor://e1:8080,e2:8080/prod?backup=zk1:2181,zk2:2181'
  svcdisco ensemble --chroot             # zk1:2181,zk2:2181/prod
  svcdisco ensemble --chroot=/kafka      # zk1:2181,zk2:2181/kafka
  svcdisco ensemble -o json              # adds which source answered`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.Output != "text" && opts.Output != query.FormatJSON {
				return exitcode.Usagef("invalid --output %q: want text or json", opts.Output)
			}
			if opts.Chroot != "" && opts.Chroot != fromURL {
				if _, err := registry.CleanChroot(opts.Chroot); err != nil {
					return exitcode.Usagef("invalid --chroot %q: %v", opts.Chroot, err)
				}
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return Run(cmd.Context(), opts)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&opts.Chroot, "chroot", "", "append a chroot: the registry URL's (--chroot) or a given one (--chroot=/path)")
	fs.Lookup("chroot").NoOptDefVal = fromURL
	fs.StringVarP(&opts.Output, "output", "o", "text", "output format: text or json")
	return cmd
}

// Run resolves the ensemble and prints it.
func Run(ctx context.Context, opts *Options) error {
	ctx, cancel := opts.F.Timeout(ctx)
	defer cancel()
	ens, u, err := dial.Ensemble(ctx, opts.F.DialOptions())
	if err != nil {
		return err
	}
	chroot := opts.Chroot
	if chroot == fromURL {
		chroot = u.Chroot
	}
	chroot, _ = registry.CleanChroot(chroot)
	res := Result{
		ConnectString: registry.ConnectString(ens.Servers, chroot),
		Servers:       ens.Servers,
		Chroot:        chroot,
		Source:        ens.Source,
		Origin:        ens.Origin,
	}
	if opts.Output == query.FormatJSON {
		return query.WriteJSON(opts.F.IO.Out, res)
	}
	_, err = fmt.Fprintln(opts.F.IO.Out, res.ConnectString)
	return err
}
