// Package maintenance is `svcdisco maintenance`: take providers out of
// rotation without deregistering them (Curator's `enabled` flag).
package maintenance

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/svcdisco/svcdisco/internal/cmdutil"
	"github.com/svcdisco/svcdisco/internal/exitcode"
	"github.com/svcdisco/svcdisco/register"
	"github.com/svcdisco/svcdisco/registry"
)

// Options is everything `maintenance` needs, parsed from flags.
type Options struct {
	F       *cmdutil.Factory
	Service string
	Status  string // registry.StatusMaintenance or registry.StatusUp
	ID      string // "" = every provider of Service on Host
	Host    string
}

// NewCmdMaintenance parses flags into Options and hands them to runF (or Run).
func NewCmdMaintenance(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{F: f}
	cmd := &cobra.Command{
		Use:   "maintenance SERVICE on|off [--id ID]",
		Short: "Put providers in maintenance (registered, hidden from queries) or take them out",
		Long: `Set the status of SERVICE's providers to "maintenance" (on) or "up" (off)
without deregistering them. Providers in maintenance are hidden from query,
render and Chef unless --include-maintenance is asked for; they keep their
registration time.

Without --id, every provider of SERVICE on this machine (--host) is changed.
The registrant (register or agent) notices the change and keeps it across
re-registrations. With --mirror the copies on the mirror are set too; a
mirror that cannot be reached is a warning on stderr, not a failure.

Exit codes: 0 ok, 1 no such provider, 2 invalid input, 4 registry unreachable.`,
		Example: `  svcdisco maintenance web on              # this machine's web providers
  svcdisco maintenance web off --id web-main
  svcdisco query web --include-maintenance`,
		Args: cmdutil.ExactArgs(2, "SERVICE and on|off"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Service = args[0]
			switch args[1] {
			case "on":
				opts.Status = registry.StatusMaintenance
			case "off":
				opts.Status = registry.StatusUp
			default:
				return exitcode.Usagef("maintenance: want on or off, got %q", args[1])
			}
			if err := registry.ValidateService(opts.Service); err != nil {
				return exitcode.New(exitcode.Usage, err)
			}
			if opts.Host == "" && opts.ID == "" {
				opts.Host = register.DefaultHost()
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return Run(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.ID, "id", "", "only the provider with this ID")
	cmd.Flags().StringVar(&opts.Host, "host", "", "only providers on this host (default: this machine's FQDN, unless --id)")
	return cmd
}

// Run sets the status of every matching provider.
func Run(ctx context.Context, opts *Options) error {
	ctx, cancel := opts.F.Timeout(ctx)
	defer cancel()
	reg, err := opts.F.OpenRegistry(ctx)
	if err != nil {
		return err
	}
	defer reg.Close()
	ps, err := reg.Providers(ctx, opts.Service, registry.ListOptions{IncludeMaintenance: true})
	if err != nil {
		return err
	}
	registry.Sort(ps)
	var done []registry.Provider
	for _, p := range ps {
		if (opts.ID != "" && p.ID != opts.ID) || (opts.Host != "" && p.Host != opts.Host) {
			continue
		}
		if err := reg.SetStatus(ctx, p, opts.Status); err != nil {
			return err
		}
		fmt.Fprintf(opts.F.IO.Out, "%s %s %s\n", p.ID, p.Addr(), opts.Status)
		done = append(done, p)
	}
	if len(done) == 0 {
		return fmt.Errorf("maintenance: no provider of %s%s", opts.Service, which(opts))
	}
	mirrorStatus(ctx, opts, done)
	return nil
}

// mirrorStatus sets the status on the mirror's copies too (--mirror),
// once the primary has it everywhere. The mirror never fails the command:
// what it misses is reported on stderr (a mirrored registrant copies the
// primary's status to its copy anyway).
func mirrorStatus(ctx context.Context, opts *Options, ps []registry.Provider) {
	url := opts.F.MirrorConfigured()
	if url == "" {
		return
	}
	m, err := opts.F.MirrorOpener(opts.F.Config)(ctx)
	if err != nil {
		opts.F.Logger.Warn("mirror: not reached; the status is set on the primary only", "mirror", registry.Redact(url), "err", err)
		return
	}
	defer m.Close()
	for _, p := range ps {
		if err := m.SetStatus(ctx, p, opts.Status); err != nil {
			opts.F.Logger.Warn("mirror: status not set there", "mirror", registry.Redact(url), "id", p.ID, "err", err)
		}
	}
}

func which(opts *Options) string {
	s := ""
	if opts.ID != "" {
		s += " with id " + opts.ID
	}
	if opts.Host != "" {
		s += " on host " + opts.Host
	}
	return s
}
