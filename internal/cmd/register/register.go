// Package register is `svcdisco register`: hold one provider registration
// until stopped.
package register

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/svcdisco/svcdisco/internal/cmdutil"
	"github.com/svcdisco/svcdisco/internal/exitcode"
	"github.com/svcdisco/svcdisco/register"
	"github.com/svcdisco/svcdisco/registry"
)

// Options is everything `register` needs, parsed from flags.
type Options struct {
	F        *cmdutil.Factory
	Provider registry.Provider
}

type flags struct {
	attrs     []string
	endpoints []string
}

// NewCmdRegister parses flags into Options and hands them to runF (or Run).
func NewCmdRegister(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{F: f}
	var fl flags
	cmd := &cobra.Command{
		Use:   "register SERVICE --port N",
		Short: "Register this machine as a provider of SERVICE until stopped (provide_service)",
		Long: `Register this machine as a provider of SERVICE and hold the registration
until svcdisco is stopped.

The provider is an ephemeral znode <chroot><root>/services/SERVICE/HOST:PORT@MILLIS
holding the provider JSON. SIGTERM or SIGINT deletes it and closes the session
before exiting 0, so watchers see the provider vanish at once. If svcdisco is
killed, the provider vanishes when the session expires (--session-timeout).
After a session expiry (e.g. a long pause) it is re-registered on a new
session, with a new timestamp, never twice. SIGHUP is ignored.

--timeout bounds the first registration (exit 4 if the registry cannot be
reached in time); after that svcdisco keeps trying for as long as it runs.`,
		Example: `  svcdisco register web --port 8080
  svcdisco register web --port 8080 --attr zone=us-east-1a --attr version=1.4.2 \
      --endpoint admin=host1.example.com:9090 --weight 2`,
		Args: cmdutil.ExactArgs(1, "one SERVICE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.complete(args[0], fl); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return Run(cmd.Context(), opts)
		},
	}
	p := &opts.Provider
	fs := cmd.Flags()
	fs.IntVar(&p.Port, "port", 0, "port the provider serves on (required)")
	fs.StringVar(&p.Host, "host", "", "host name to register (default: this machine's FQDN)")
	fs.StringVar(&p.Address, "address", "", "IP address to register (default: this machine's primary IP)")
	fs.StringVar(&p.ID, "id", "", "provider ID (default: SERVICE-HOST-PORT)")
	fs.StringArrayVar(&fl.attrs, "attr", nil, "attribute key=value (repeatable)")
	fs.StringArrayVar(&fl.endpoints, "endpoint", nil, "extra endpoint name=host:port (repeatable)")
	fs.IntVar(&p.Weight, "weight", 1, "relative weight for load balancers")
	_ = cmd.MarkFlagRequired("port")
	return cmd
}

func (opts *Options) complete(service string, fl flags) error {
	p := &opts.Provider
	p.Service = service
	if p.Host == "" {
		p.Host = register.DefaultHost()
	}
	if p.Address == "" {
		p.Address = register.DefaultAddress()
	}
	var err error
	if p.Attributes, err = register.ParseAttrs(fl.attrs); err != nil {
		return err
	}
	if p.Endpoints, err = register.ParseEndpoints(fl.endpoints); err != nil {
		return err
	}
	if err := p.Validate(); err != nil {
		return exitcode.New(exitcode.Usage, err)
	}
	return nil
}

// Run registers and holds until SIGTERM/SIGINT.
func Run(ctx context.Context, opts *Options) error {
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	ignoreHUP(opts.F)

	cctx, cancel := opts.F.Timeout(ctx)
	reg, err := opts.F.OpenRegistry(cctx)
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	defer reg.Close()
	err = register.Hold(ctx, reg, opts.Provider, opts.F.TimeoutValue(), func(p registry.Provider) {
		fmt.Fprintf(opts.F.IO.Out, "registered %s provider %s at %s\n", p.Service, p.ID, p.Addr())
	})
	if err != nil {
		return err
	}
	opts.F.Logger.Info("deregistered", "service", opts.Provider.Service)
	return nil
}

func ignoreHUP(f *cmdutil.Factory) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		for range hup {
			f.Logger.Info("SIGHUP: nothing to reload for a single registration")
		}
	}()
}
