// Package root assembles the svcdisco command tree.
package root

import (
	"github.com/spf13/cobra"

	"github.com/svcdisco/svcdisco/internal/cmd/agent"
	"github.com/svcdisco/svcdisco/internal/cmd/chroot"
	"github.com/svcdisco/svcdisco/internal/cmd/elect"
	"github.com/svcdisco/svcdisco/internal/cmd/ensemble"
	"github.com/svcdisco/svcdisco/internal/cmd/leader"
	"github.com/svcdisco/svcdisco/internal/cmd/lock"
	"github.com/svcdisco/svcdisco/internal/cmd/maintenance"
	"github.com/svcdisco/svcdisco/internal/cmd/migrate"
	"github.com/svcdisco/svcdisco/internal/cmd/query"
	"github.com/svcdisco/svcdisco/internal/cmd/register"
	"github.com/svcdisco/svcdisco/internal/cmd/render"
	"github.com/svcdisco/svcdisco/internal/cmd/services"
	"github.com/svcdisco/svcdisco/internal/cmd/version"
	"github.com/svcdisco/svcdisco/internal/cmdutil"
	"github.com/svcdisco/svcdisco/internal/config"
	"github.com/svcdisco/svcdisco/internal/exitcode"
)

const long = `svcdisco registers services as providers in ZooKeeper, Consul or etcd (ephemeral,
timestamped znodes) and answers "which providers does service X have right
now?" for people, scripts, templates and Chef recipes.

Configuration: flags > SVCDISCO_* environment variables > config file
(--config, else /etc/svcdisco/svcdisco.yaml) > defaults. Config file keys are
the flag names with underscores (session_timeout); unknown keys are an error.

Exit codes:
  0    ok
  1    failure
  2    usage / invalid input
  3    not enough providers (--at-least unmet, or a template's min_providers);
       no leader (leader)
  4    registry or Exhibitor unreachable / deadline passed
  5    a template's check command rejected the new file
  10   lock not acquired within --wait (held elsewhere)
  11   lock lost while held (elect: leadership lost)
  12   a required mount is missing or does not answer
  127  register, lock, elect -- CMD: CMD could not be started`

// NewCmdRoot returns the root command with every subcommand.
func NewCmdRoot(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "svcdisco <command>",
		Short: "Service discovery on ZooKeeper, Consul or etcd: register providers, query them, render configs",
		Long:  long,
		Example: `  svcdisco register web --port 8080 --attr zone=us-east-1a &
  svcdisco query web
  svcdisco query web -o lines --registry zk://zk1:2181,zk2:2181/prod`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			return f.Init(cmd)
		},
	}
	cmd.SetIn(f.IO.In)
	cmd.SetOut(f.IO.Out)
	cmd.SetErr(f.IO.ErrOut)
	config.AddGlobalFlags(cmd.PersistentFlags())
	// main prints "svcdisco: " before every error, so a flag error names
	// the subcommand without repeating the program's name.
	cmd.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		if !c.HasParent() {
			return exitcode.New(exitcode.Usage, err)
		}
		return exitcode.Usagef("%s: %v", cmdutil.CommandName(c), err)
	})
	cmd.AddCommand(
		register.NewCmdRegister(f, nil),
		agent.NewCmdAgent(f, nil),
		maintenance.NewCmdMaintenance(f, nil),
		query.NewCmdQuery(f, nil),
		services.NewCmdServices(f, nil),
		render.NewCmdRender(f, nil),
		ensemble.NewCmdEnsemble(f, nil),
		chroot.NewCmdChroot(f, nil),
		lock.NewCmdLock(f, nil),
		elect.NewCmdElect(f, nil),
		leader.NewCmdLeader(f, nil),
		migrate.NewCmdMigrate(f, nil, nil),
		version.NewCmdVersion(f),
	)
	return cmd
}
