// Package chroot is `svcdisco chroot prime|check|export|import`: prepare a
// chroot before anything connects to it, and move one between ensembles.
package chroot

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/svcdisco/svcdisco/chroot"
	"github.com/svcdisco/svcdisco/internal/cmdutil"
	"github.com/svcdisco/svcdisco/internal/exitcode"
	"github.com/svcdisco/svcdisco/query"
	"github.com/svcdisco/svcdisco/registry"
	"github.com/svcdisco/svcdisco/registry/dial"
	"github.com/svcdisco/svcdisco/registry/zk"
)

// Options is everything the chroot commands need.
type Options struct {
	F    *cmdutil.Factory
	Verb string // prime, check, export or import
	// Path is the chroot, absolute on the ensemble; "" means the registry
	// URL's chroot.
	Path string
	ACL  []string // prime
	// Services are service directories prime creates; Registrants are
	// digest ids (USER:HASH) given CREATE, and only that, on them.
	Services    []string
	Registrants []string
	Overwrite   bool   // import
	DryRun      bool   // import
	Output      string // import: text or json
}

const long = `Prepare and move ZooKeeper chroots. PATH is absolute on the ensemble and
defaults to the registry URL's chroot; these commands connect to the
ensemble's root (through Exhibitor for exhibitor:// URLs), so they work
before the chroot exists.

  prime PATH     create every missing component of PATH and svcdisco's
                 layout under it (PATH<root>/services); prints what it
                 created, nothing when run again. --acl sets the ACL of
                 what it creates (zkCli form, repeatable); --service NAME
                 also creates PATH<root>/services/NAME, where each
                 --registrant USER:HASH gets CREATE, and only that, and
                 PATH<root>/maintenance/NAME (maintenance markers), where
                 registrants get CREATE and DELETE (README "ZooKeeper ACLs").
  check PATH     exit 0 if PATH exists, 4 (with a hint) if not; warns
                 about world-writable znodes and marker directories
                 registrants cannot use, exit 1 when registrants could
                 not create providers under PATH<root>/services.
  export PATH    write the persistent subtree as JSON to stdout: path,
                 data (base64) and ACL of every znode. Ephemeral znodes
                 (live registrations) are skipped and counted on stderr.
  import PATH    read such JSON from stdin and create what is missing,
                 with the dump's data and ACL. Existing znodes whose data
                 differs are conflicts: reported, left alone, exit 1 —
                 unless --overwrite. --dry-run reports and changes nothing.

Commands using a registry URL whose chroot does not exist exit 4 with the
hint to run 'svcdisco chroot prime'; --chroot-create makes them prime it (refused with ZooKeeper credentials:
prime it with its ACL instead).`

// NewCmdChroot returns the chroot command group.
func NewCmdChroot(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "chroot <prime|check|export|import> [PATH]",
		Short: "Prime, check, export and import ZooKeeper chroots",
		Long:  long,
		Example: `  svcdisco chroot prime /prod --registry zk://zk1:2181
  svcdisco chroot prime --acl world:anyone:r --acl digest:ops:HASH=:cdrwa --registry zk://zk1:2181/prod
  svcdisco chroot check /prod || svcdisco chroot prime /prod
  svcdisco chroot export /prod --registry zk://old1:2181 > prod.json
  svcdisco chroot import /prod --registry zk://new1:2181 --dry-run < prod.json`,
		Args: cmdutil.NoArgs,
	}
	for _, verb := range []string{"prime", "check", "export", "import"} {
		cmd.AddCommand(newVerb(f, verb, runF))
	}
	return cmd
}

var shorts = map[string]string{
	"prime":  "Create PATH and svcdisco's layout under it (idempotent)",
	"check":  "Exit 0 if PATH exists, 4 otherwise",
	"export": "Write PATH's persistent subtree as JSON to stdout",
	"import": "Create what is missing of a JSON dump (stdin) under PATH",
}

func newVerb(f *cmdutil.Factory, verb string, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{F: f, Verb: verb, Output: "text"}
	cmd := &cobra.Command{
		Use:   verb + " [PATH]",
		Short: shorts[verb],
		Long:  long,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 1 {
				return exitcode.Usagef("%s: want at most one PATH, got %d arguments", cmdutil.CommandName(cmd), len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				if err := registry.ValidatePath(args[0]); err != nil {
					return exitcode.Usagef("invalid PATH: %v", err)
				}
				opts.Path = args[0]
			}
			if _, err := chroot.ParseACL(opts.ACL); err != nil {
				return exitcode.New(exitcode.Usage, err)
			}
			if _, err := chroot.RegistrantACL(opts.Registrants); err != nil {
				return exitcode.New(exitcode.Usage, err)
			}
			if len(opts.Registrants) > 0 && len(opts.Services) == 0 {
				return exitcode.Usagef("chroot prime: --registrant needs --service NAME: registrants get CREATE on service directories only")
			}
			for _, svc := range opts.Services {
				if err := registry.ValidateService(svc); err != nil {
					return exitcode.Usagef("chroot prime: --service: %v", err)
				}
			}
			if opts.Output != "text" && opts.Output != query.FormatJSON {
				return exitcode.Usagef("invalid --output %q: want text or json", opts.Output)
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return Run(cmd.Context(), opts)
		},
	}
	fs := cmd.Flags()
	switch verb {
	case "prime":
		fs.StringArrayVar(&opts.ACL, "acl", nil, "ACL scheme:id:perms for the znodes created (repeatable; default world:anyone:cdrwa)")
		fs.StringArrayVar(&opts.Services, "service", nil, "also create the service directory NAME under <root>/services, and its maintenance marker directory (repeatable)")
		fs.StringArrayVar(&opts.Registrants, "registrant", nil, "digest id USER:HASH allowed to register the --service directories: CREATE only there, CREATE and DELETE on their maintenance markers (repeatable)")
	case "import":
		fs.BoolVar(&opts.Overwrite, "overwrite", false, "replace the data of existing znodes that differ from the dump")
		fs.BoolVar(&opts.DryRun, "dry-run", false, "report what would be done, change nothing")
		fs.StringVarP(&opts.Output, "output", "o", "text", "output format of the report: text or json")
	}
	return cmd
}

// Run connects to the ensemble's root and runs the verb.
func Run(ctx context.Context, opts *Options) error {
	ctx, cancel := opts.F.Timeout(ctx)
	defer cancel()
	var dump *chroot.Dump
	if opts.Verb == "import" { // read stdin first: bad input fails before connecting
		dump = &chroot.Dump{}
		dec := json.NewDecoder(opts.F.IO.In)
		dec.DisallowUnknownFields()
		if err := dec.Decode(dump); err != nil {
			return exitcode.Usagef("chroot import: stdin is not a chroot export: %v", err)
		}
		if opts.Path != "" {
			if _, err := chroot.CheckImport(opts.Path, dump); err != nil {
				return fmt.Errorf("chroot %w", err)
			}
		}
	}
	r, u, err := dial.OpenZK(ctx, opts.F.DialOptions())
	if err != nil {
		return err
	}
	defer r.Close()
	path := opts.Path
	if path == "" {
		path = u.Chroot
	}
	if path == "" {
		return exitcode.Usagef("chroot %s: no PATH given and the registry URL has no chroot", opts.Verb)
	}
	switch opts.Verb {
	case "prime":
		return prime(ctx, opts, r, path)
	case "check":
		return check(ctx, opts, r, path)
	case "export":
		return export(ctx, opts, r, path)
	default:
		return importDump(ctx, opts, r, path, dump)
	}
}

func prime(ctx context.Context, opts *Options, r *zk.Registry, path string) error {
	acl, _ := chroot.ParseACL(opts.ACL)
	registrants, _ := chroot.RegistrantACL(opts.Registrants)
	if !chroot.CanCreate(acl, r.Identities()) {
		// Found by hand: creating PATH with such an ACL, then failing with
		// NoAuth on its first child, leaves a half-primed chroot.
		return exitcode.Usagef("chroot prime %s: the --acl gives none of this client's identities CREATE, so nothing under %s could be created; authenticate as one (--zk-auth-file or %s)", path, path, zk.AuthEnv)
	}
	root := opts.F.DialOptions().Root
	created, err := chroot.PrimeLayout(ctx, r.Conn(), chroot.PrimeInput{
		Chroot: path, Root: root, ACL: acl, Services: opts.Services, Registrants: registrants})
	for _, p := range created {
		fmt.Fprintf(opts.F.IO.Out, "created %s\n", p)
	}
	if err != nil {
		return fmt.Errorf("chroot prime %s: %w", path, err)
	}
	if len(created) == 0 {
		opts.F.Logger.Info("chroot already primed; nothing created", "path", path, "root", root)
	}
	return nil
}

func check(ctx context.Context, opts *Options, r *zk.Registry, path string) error {
	ok, err := chroot.Check(ctx, r.Conn(), path)
	if err != nil {
		return err
	}
	if !ok {
		return exitcode.Unreachablef("chroot %s does not exist; create it with `svcdisco chroot prime %s`", path, path)
	}
	fmt.Fprintf(opts.F.IO.Out, "%s exists\n", path)
	rep, err := chroot.CheckACL(ctx, r.Conn(), path, opts.F.DialOptions().Root)
	if err != nil {
		return err
	}
	for _, w := range rep.Warnings {
		opts.F.Logger.Warn(w)
	}
	if len(rep.Problems) > 0 {
		return fmt.Errorf("chroot check %s: %s", path, strings.Join(rep.Problems, "; "))
	}
	return nil
}

func export(ctx context.Context, opts *Options, r *zk.Registry, path string) error {
	d, err := chroot.Export(ctx, r.Conn(), path)
	if err != nil {
		return err
	}
	if err := query.WriteJSON(opts.F.IO.Out, d); err != nil {
		return err
	}
	opts.F.Logger.Info("exported", "path", path, "znodes", len(d.Nodes), "ephemerals_skipped", d.EphemeralsSkipped)
	return nil
}

func importDump(ctx context.Context, opts *Options, r *zk.Registry, path string, d *chroot.Dump) error {
	res, err := chroot.Import(ctx, r.Conn(), path, d, chroot.ImportOptions{Overwrite: opts.Overwrite, DryRun: opts.DryRun})
	if res != nil {
		if werr := writeReport(opts, res); werr != nil && err == nil {
			err = werr
		}
	}
	if err != nil {
		return err
	}
	if len(res.Conflicts) > 0 {
		return fmt.Errorf("chroot import %s: %d conflict(s) left alone (use --overwrite to replace their data)", path, len(res.Conflicts))
	}
	return nil
}

func writeReport(opts *Options, res *chroot.ImportResult) error {
	if opts.Output == query.FormatJSON {
		return query.WriteJSON(opts.F.IO.Out, res)
	}
	w := opts.F.IO.Out
	would := ""
	if res.DryRun {
		would = "would be "
	}
	for _, p := range res.Created {
		fmt.Fprintf(w, "%screated %s\n", would, p)
	}
	for _, p := range res.Updated {
		fmt.Fprintf(w, "%supdated %s\n", would, p)
	}
	for _, c := range res.Conflicts {
		fmt.Fprintf(w, "conflict %s: %s\n", c.Path, c.Reason)
	}
	_, err := fmt.Fprintf(w, "%d %screated, %d %supdated, %d unchanged, %d conflict(s)%s\n",
		len(res.Created), would, len(res.Updated), would, res.Unchanged, len(res.Conflicts), dry(res.DryRun))
	return err
}

func dry(b bool) string {
	if b {
		return " (dry run: nothing changed)"
	}
	return ""
}
