// Package migrate is `svcdisco migrate copy|verify`: moving a live fleet
// between ZooKeeper ensembles (library: package migrate).
package migrate

import (
	"context"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/svcdisco/svcdisco/internal/cmdutil"
	"github.com/svcdisco/svcdisco/internal/exitcode"
	"github.com/svcdisco/svcdisco/query"
	"github.com/svcdisco/svcdisco/registry"
	"github.com/svcdisco/svcdisco/registry/dial"
)

// Options is everything `migrate copy` and `migrate verify` need.
type Options struct {
	F        *cmdutil.Factory
	From, To string
	Path     string // copy: the subtree, inside each URL's chroot ("" = --root)
	DryRun   bool
	ACL      bool
	Wait     time.Duration // verify
	Output   string
}

// NewCmdMigrate returns `migrate` with its two subcommands.
func NewCmdMigrate(f *cmdutil.Factory, runCopy, runVerify func(context.Context, *Options) error) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "migrate <copy|verify>",
		Short: "Move a live fleet to another ZooKeeper ensemble: copy the persistent tree, verify both sides agree",
		Long: `The steps of moving a live fleet from ensemble A to ensemble B (see the
README's "Moving to another ensemble"):

  1. svcdisco migrate copy --from A --to B     the persistent tree (chroot, service
                                               directories); ephemerals and sequence
                                               counters are reported, not copied
  2. mirror: B on every agent and contender    (--mirror, SIGHUP)
  3. svcdisco migrate verify --from A --to B --wait 1m   go/no-go: exit 0 only when
                                               both sides show the same providers
                                               and leaders
  4. readers to B, then writers to B with no mirror.`,
	}
	cmd.AddCommand(newCmdCopy(f, runCopy), newCmdVerify(f, runVerify))
	return cmd
}

func addSides(cmd *cobra.Command, opts *Options) {
	cmd.Flags().StringVar(&opts.From, "from", "", "registry URL of the ensemble moved from (zk:// or exhibitor://)")
	cmd.Flags().StringVar(&opts.To, "to", "", "registry URL of the ensemble moved to (zk:// or exhibitor://)")
	cmd.Flags().StringVarP(&opts.Output, "output", "o", query.FormatTable, "output format: table or json")
}

// check validates what both subcommands share.
func (o *Options) check(name string) error {
	if o.From == "" || o.To == "" {
		return exitcode.Usagef("migrate %s: --from and --to are required", name)
	}
	for _, u := range []struct{ flag, raw string }{{"--from", o.From}, {"--to", o.To}} {
		p, err := registry.ParseURL(u.raw)
		if err != nil {
			return exitcode.Usagef("migrate %s: %s: %v", name, u.flag, err)
		}
		if p.Scheme != "zk" && p.Scheme != "exhibitor" {
			return exitcode.Usagef("migrate %s: %s %s: want a zk:// or exhibitor:// URL", name, u.flag, p.Original)
		}
	}
	if o.From == o.To {
		return exitcode.Usagef("migrate %s: --from and --to are the same registry", name)
	}
	_, err := query.ParseFormat(o.Output, query.FormatTable, query.FormatJSON)
	return err
}

func (o *Options) dialOptions(url string) dial.Options {
	d := o.F.DialOptions()
	d.URL = url
	return d
}

func writeJSON(w io.Writer, v any) error { return query.WriteJSON(w, v) }
