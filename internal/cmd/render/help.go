package render

const longHelp = `Render configuration files from the registry's providers with Go
text/template, once (the Chef mode) or continuously (--watch).

A template reads providers with these functions (plus sprig's hermetic set):
  providers "web" ["k=v"|"k!=v"]...  providers, oldest first (as 'query')
  provider "web"                     the newest provider (error if none)
  services                           every service name, sorted
  ensemble                           the ZooKeeper connection string
  env "NAME"                         an environment variable
Each provider has .Service .ID .Host .Address .Port .Endpoints .Attributes
.Weight .Status .Timestamp.

Templates come from --template SRC:DEST[:COMMAND] and from the config file's
"templates:" stanzas (source, destination, command, check_command, perms,
backup, wait, min_providers, create_dest_dirs, max_size, render_timeout). Two templates may
not share a destination. A source must be a regular file.

A file is never replaced by a worse one: the new contents are staged beside
the destination, checked by check_command (run with the staged path as {{.}}
and $SVCDISCO_STAGED), then renamed over it. Nothing is written when the
registry is unreachable, data is missing, a service has fewer providers than
its min_providers, the template fails, or the check fails, or a render
bound trips: one execution may take --timeout (or the stanza's
render_timeout) and write --max-size bytes (or the stanza's max_size). Unchanged contents are not written and the
command does not run — unless an earlier run's command failed: that
command is owed (a marker beside DEST remembers it) and runs on the next
pass. A symlinked DEST is followed: its target is written, the link kept.

--once (the default) fetches what every template needs within --timeout,
writes, runs commands, and prints one line per template: "written DEST",
"unchanged DEST" or "refused DEST (reason)" (--report json for machines).
--watch renders at once, then after every change of a service a template
reads, debounced by --wait MIN:MAX (or the stanza's wait). For --settle
(default twice --session-timeout) after the registry comes back from an
outage, or after every provider of a service was replaced at once, a file
is not rendered with fewer providers than it has, and at most 4 times.
SIGHUP reloads the config file; SIGTERM/SIGINT exit 0.

Exit codes (once mode; the first refused template decides):
  0 ok, 1 failure (e.g. a reload command failed), 2 invalid input or a
  template error (file and line named), 3 a service below min_providers,
  4 registry unreachable or --timeout passed (services not fetched named),
  5 check_command rejected the new file, 6 rendered from stale answers
  (--stale-ok MAXAGE: services the registry could not give were taken from
  the answer cache; only when nothing else went wrong).`
