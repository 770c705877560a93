// Package config loads svcdisco's settings with viper. Precedence, highest
// first: command-line flags, SVCDISCO_* environment variables, the config
// file (--config, else /etc/svcdisco/svcdisco.yaml when it exists),
// defaults. Keys in the file are the flag names with underscores
// (session_timeout); unknown keys are an error, so a typo never silently
// falls back to a default.
package config

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"

	"github.com/svcdisco/svcdisco/chroot"
	"github.com/svcdisco/svcdisco/internal/exitcode"
	"github.com/svcdisco/svcdisco/registry"
	"github.com/svcdisco/svcdisco/registry/zk/foreign"
)

// DefaultPath is read when --config is not given and the file exists.
const DefaultPath = "/etc/svcdisco/svcdisco.yaml"

// EnvPrefix prefixes every environment variable: SVCDISCO_REGISTRY, …
const EnvPrefix = "SVCDISCO"

// Config is every setting. Each field's mapstructure tag is its key in the
// config file and, upper-cased with the prefix, its environment variable.
type Config struct {
	Registry string `mapstructure:"registry"`
	// Mirror is a second ZooKeeper registry (zk:// or exhibitor://) that
	// register, agent and maintenance also write to (registry/mirror).
	Mirror         string        `mapstructure:"mirror"`
	Root           string        `mapstructure:"root"`
	SessionTimeout time.Duration `mapstructure:"session_timeout"`
	Timeout        time.Duration `mapstructure:"timeout"`
	LogLevel       string        `mapstructure:"log_level"`
	// LogFormat is text (logfmt-like key=value) or json (one object a
	// line, for journald/Loki/ELK pipelines).
	LogFormat    string `mapstructure:"log_format"`
	ChrootCreate bool   `mapstructure:"chroot_create"`
	// ZKAuthFile names a mode-0600 file of ZooKeeper digest credentials
	// (the credentials themselves never go in a flag or the config).
	ZKAuthFile string `mapstructure:"zk_auth_file"`
	// ZKAdminACL are ACL entries (scheme:id:perms, as `chroot prime --acl`)
	// a registrant adds to its provider znodes, so that an admin identity
	// can change any host's provider (`maintenance … --host`).
	ZKAdminACL []string `mapstructure:"zk_admin_acl"`
	// ConsulTokenFile and ExhibitorAuthFile name mode-0600 files holding
	// Consul's ACL token and Exhibitor's user:password (never in the URL).
	ConsulTokenFile   string `mapstructure:"consul_token_file"`
	ExhibitorAuthFile string `mapstructure:"exhibitor_auth_file"`
	// TLS to ZooKeeper (zk://…?tls=1): PEM CA, client certificate and key.
	ZKTLSCA   string `mapstructure:"zk_tls_ca"`
	ZKTLSCert string `mapstructure:"zk_tls_cert"`
	ZKTLSKey  string `mapstructure:"zk_tls_key"`

	// Exhibitor (exhibitor:// registry URLs).
	ExhibitorCA   string        `mapstructure:"exhibitor_ca"`
	ExhibitorPath string        `mapstructure:"exhibitor_path"`
	ExhibitorPoll time.Duration `mapstructure:"exhibitor_poll"`
	EnsembleCache string        `mapstructure:"ensemble_cache"`

	// Format and FormatPath say where and in which layout query and
	// render read providers (flags --format and --path): svcdisco's own
	// entries by default, or Curator, ServerSet or Nerve entries (package
	// registry/zk/foreign).
	Format     string `mapstructure:"format"`
	FormatPath string `mapstructure:"format_path"`
	// AgentSocket is an agent's --serve socket that readers (query,
	// services, render --once) ask first; "" asks the registry directly.
	AgentSocket string `mapstructure:"agent_socket"`
	// Serve, ServeGroup and ServeIdle are the agent's node cache socket,
	// the group owning it, and how long an unasked service stays watched.
	Serve      string        `mapstructure:"serve"`
	ServeGroup string        `mapstructure:"serve_group"`
	ServeIdle  time.Duration `mapstructure:"serve_idle"`
	// AnswerCache is the directory of last known good answers
	// (query/answercache; "" is its default directory).
	AnswerCache string `mapstructure:"answer_cache"`
	// StaleOK is how old a cached answer may be when the registry cannot
	// be reached (0: never answer from the cache).
	StaleOK time.Duration `mapstructure:"stale_ok"`

	// Templates are `render`'s template stanzas (config file only).
	Templates []TemplateConfig `mapstructure:"templates"`

	// File is the config file that was read ("" when none).
	File string `mapstructure:"-"`
}

// TemplateConfig is one `templates:` stanza of the config file. Values are
// kept as written; package templates parses and validates them, so its
// errors can name the stanza.
type TemplateConfig struct {
	Source       string `mapstructure:"source"`
	Destination  string `mapstructure:"destination"`
	Command      string `mapstructure:"command"`
	CheckCommand string `mapstructure:"check_command"`
	// Perms is an octal mode: "0640" (a string), or a YAML octal number
	// 0640 which arrives already converted (416) — so it is kept as
	// written and told apart by type.
	Perms          any            `mapstructure:"perms"`
	Backup         bool           `mapstructure:"backup"`
	Wait           string         `mapstructure:"wait"`
	MinProviders   map[string]int `mapstructure:"min_providers"`
	CreateDestDirs bool           `mapstructure:"create_dest_dirs"`
	// MaxSize bounds the rendered output: bytes, or 512KiB, 16MiB…
	MaxSize string `mapstructure:"max_size"`
	// RenderTimeout bounds one execution of the template ("2s"); default
	// --timeout.
	RenderTimeout string `mapstructure:"render_timeout"`
	// FunctionDenylist and SandboxPath are the template sandbox (added to
	// and defaulted by render's --function-denylist and --sandbox-path).
	FunctionDenylist []string `mapstructure:"function_denylist"`
	SandboxPath      string   `mapstructure:"sandbox_path"`
	// Sources reads the named services from entries other systems wrote
	// (service: {format: nerve, path: /nerve/{service}}); see Sources.
	Sources map[string]SourceConfig `mapstructure:"sources"`
}

// SourceConfig is where one service's entries are read: the format and
// format_path keys, for one service of a template stanza.
type SourceConfig struct {
	Format string `mapstructure:"format"`
	Path   string `mapstructure:"path"`
}

// Defaults of the global settings.
var Defaults = Config{
	Registry:       registry.DefaultURL,
	Root:           "/svcdisco",
	SessionTimeout: 10 * time.Second,
	Timeout:        10 * time.Second,
	LogLevel:       "info",
	LogFormat:      LogFormatText,
	ExhibitorPath:  "/exhibitor/v1",
	ExhibitorPoll:  30 * time.Second,
	ServeIdle:      10 * time.Minute,
}

// Flag names of the global settings, bound to their keys.
var globalFlags = map[string]string{
	"registry":            "registry",
	"mirror":              "mirror",
	"root":                "root",
	"session-timeout":     "session_timeout",
	"timeout":             "timeout",
	"log-level":           "log_level",
	"log-format":          "log_format",
	"chroot-create":       "chroot_create",
	"zk-auth-file":        "zk_auth_file",
	"zk-admin-acl":        "zk_admin_acl",
	"consul-token-file":   "consul_token_file",
	"exhibitor-auth-file": "exhibitor_auth_file",
	"zk-tls-ca":           "zk_tls_ca",
	"zk-tls-cert":         "zk_tls_cert",
	"zk-tls-key":          "zk_tls_key",
	"exhibitor-ca":        "exhibitor_ca",
	"exhibitor-path":      "exhibitor_path",
	"exhibitor-poll":      "exhibitor_poll",
	"ensemble-cache":      "ensemble_cache",
	"agent-socket":        "agent_socket",
	"serve":               "serve",
	"serve-group":         "serve_group",
	"serve-idle":          "serve_idle",
	"answer-cache":        "answer_cache",
	"stale-ok":            "stale_ok",
}

// readerFlags are the flags of the commands that read providers (query,
// render), bound to their keys only where --format is defined: other
// commands have a --path of their own (leader).
var readerFlags = map[string]string{
	"format": "format",
	"path":   "format_path",
}

// AddGlobalFlags defines the global flags on fs.
func AddGlobalFlags(fs *pflag.FlagSet) {
	fs.String("registry", Defaults.Registry, "registry URL: zk://h1:2181,h2:2181/chroot, exhibitor://e1:8080/chroot?backup=h1:2181, consul://127.0.0.1:8500 (env SVCDISCO_REGISTRY)")
	fs.String("mirror", "", "second ZooKeeper registry (zk:// or exhibitor://) that register, agent, maintenance and elect also write to, for moving a live fleet between ensembles (env SVCDISCO_MIRROR)")
	fs.String("root", Defaults.Root, "path under the chroot that namespaces everything svcdisco writes")
	fs.Duration("session-timeout", Defaults.SessionTimeout, "crash-detection time: the ZooKeeper session timeout, or the Consul TTL check's TTL (how long a crashed registrant stays listed)")
	fs.Duration("timeout", Defaults.Timeout, "deadline for reaching the registry and answering (exit 4 when it passes)")
	fs.String("config", "", "config file (default "+DefaultPath+" when it exists; env SVCDISCO_CONFIG)")
	fs.String("log-level", Defaults.LogLevel, "debug, info, warn or error (logs go to stderr)")
	fs.String("log-format", Defaults.LogFormat, "text or json (one JSON object per log line on stderr)")
	fs.String("zk-auth-file", "", "file of ZooKeeper digest credentials, user:password per line, mode 0600 (or env SVCDISCO_ZK_AUTH=user:password)")
	fs.StringArray("zk-admin-acl", nil, "ACL entry scheme:id:perms (e.g. digest:ops:HASH:rw) added to this host's provider znodes so an admin can change them (repeatable; env SVCDISCO_ZK_ADMIN_ACL, comma-separated)")
	fs.String("consul-token-file", "", "file holding Consul's ACL token, mode 0600 (or env CONSUL_HTTP_TOKEN); never in the registry URL")
	fs.String("exhibitor-auth-file", "", "file holding user:password for Exhibitor's basic auth, mode 0600 (or env SVCDISCO_EXHIBITOR_AUTH)")
	fs.String("zk-tls-ca", "", "PEM CA bundle for zk://…?tls=1 (default: the system's CAs)")
	fs.String("zk-tls-cert", "", "PEM client certificate for zk://…?tls=1 (servers with ssl.clientAuth=need)")
	fs.String("zk-tls-key", "", "PEM private key of --zk-tls-cert")
	fs.Bool("chroot-create", false, "create the registry URL's chroot when it does not exist (default: exit 4 with a hint)")
	fs.String("exhibitor-ca", "", "PEM file of CA certificates for an https Exhibitor (exhibitor://…?scheme=https); certificates are always verified")
	fs.String("exhibitor-path", Defaults.ExhibitorPath, "Exhibitor's REST prefix (for an Exhibitor behind a proxy)")
	fs.Duration("exhibitor-poll", Defaults.ExhibitorPoll, "how often long-running commands re-ask Exhibitor and follow a changed ensemble (0 never)")
	fs.String("ensemble-cache", "", "file caching Exhibitor's last good answer (default $XDG_CACHE_HOME/svcdisco/, /var/cache/svcdisco/ for root)")
	fs.String("agent-socket", "", "ask the node cache of `svcdisco agent --serve` on this socket first, the registry only when it does not answer (env SVCDISCO_AGENT_SOCKET)")
	fs.String("answer-cache", "", "directory of last known good answers (default $XDG_CACHE_HOME/svcdisco, /var/cache/svcdisco for root)")
	fs.Duration("stale-ok", 0, "when the registry cannot be reached, answer from the answer cache if its answer is at most this old (exit 6; default 0: never)")
}

// Load builds the configuration from fs (already parsed), the environment
// and the config file.
func Load(fs *pflag.FlagSet) (*Config, error) {
	v := viper.New()
	v.SetEnvPrefix(EnvPrefix)
	v.AutomaticEnv()
	setDefaults(v)
	for flag, key := range globalFlags {
		if f := fs.Lookup(flag); f != nil {
			if err := v.BindPFlag(key, f); err != nil {
				return nil, err
			}
		}
	}
	if fs.Lookup("format") != nil {
		for flag, key := range readerFlags {
			if f := fs.Lookup(flag); f != nil {
				if err := v.BindPFlag(key, f); err != nil {
					return nil, err
				}
			}
		}
	}
	path := configPath(fs)
	if path != "" {
		v.SetConfigFile(path)
		if err := v.ReadInConfig(); err != nil {
			return nil, exitcode.Usagef("config file %s: %s", path, oneLine(err))
		}
	}
	recordSecrets(v)
	if err := checkEnvDurations(fs); err != nil {
		return nil, exitcode.New(exitcode.Usage, err)
	}
	var cfg Config
	if err := v.UnmarshalExact(&cfg, viper.DecodeHook(decodeHook())); err != nil {
		return nil, exitcode.Usagef("config%s: %s", inFile(path), oneLine(err))
	}
	cfg.File = path
	if err := cfg.Validate(); err != nil {
		return nil, exitcode.Usagef("config%s: %v", inFile(path), err)
	}
	return &cfg, nil
}

func setDefaults(v *viper.Viper) {
	v.SetDefault("registry", Defaults.Registry)
	v.SetDefault("mirror", "")
	v.SetDefault("root", Defaults.Root)
	v.SetDefault("session_timeout", Defaults.SessionTimeout)
	v.SetDefault("timeout", Defaults.Timeout)
	v.SetDefault("log_level", Defaults.LogLevel)
	v.SetDefault("log_format", Defaults.LogFormat)
	v.SetDefault("chroot_create", Defaults.ChrootCreate)
	v.SetDefault("zk_auth_file", "")
	v.SetDefault("zk_admin_acl", []string{})
	v.SetDefault("consul_token_file", "")
	v.SetDefault("exhibitor_auth_file", "")
	v.SetDefault("zk_tls_ca", "")
	v.SetDefault("zk_tls_cert", "")
	v.SetDefault("zk_tls_key", "")
	v.SetDefault("exhibitor_ca", Defaults.ExhibitorCA)
	v.SetDefault("exhibitor_path", Defaults.ExhibitorPath)
	v.SetDefault("exhibitor_poll", Defaults.ExhibitorPoll)
	v.SetDefault("ensemble_cache", Defaults.EnsembleCache)
	v.SetDefault("format", "")
	v.SetDefault("format_path", "")
	v.SetDefault("agent_socket", "")
	v.SetDefault("serve", "")
	v.SetDefault("serve_group", "")
	v.SetDefault("serve_idle", Defaults.ServeIdle)
	v.SetDefault("answer_cache", Defaults.AnswerCache)
	v.SetDefault("stale_ok", Defaults.StaleOK)
}

// configPath is --config, else $SVCDISCO_CONFIG (a file named either way
// must exist), else DefaultPath if it exists, else "".
func configPath(fs *pflag.FlagSet) string {
	if f := fs.Lookup("config"); f != nil && f.Value.String() != "" {
		return f.Value.String()
	}
	if p := os.Getenv(EnvPrefix + "_CONFIG"); p != "" {
		return p
	}
	if _, err := os.Stat(DefaultPath); err == nil {
		return DefaultPath
	}
	return ""
}

// Validate checks values that parse but make no sense.
func (c *Config) Validate() error {
	if _, err := registry.ParseURL(c.Registry); err != nil {
		return err
	}
	if err := c.validateMirror(); err != nil {
		return err
	}
	if err := registry.ValidatePath(c.Root); err != nil || c.Root == "/" {
		return fmt.Errorf("invalid root %q: want an absolute path like /svcdisco", c.Root)
	}
	if c.SessionTimeout <= 0 {
		return fmt.Errorf("invalid session_timeout %s: must be positive", c.SessionTimeout)
	}
	if c.Timeout <= 0 {
		return fmt.Errorf("invalid timeout %s: must be positive", c.Timeout)
	}
	if c.ExhibitorPoll < 0 {
		return fmt.Errorf("invalid exhibitor_poll %s: must not be negative", c.ExhibitorPoll)
	}
	if c.ServeIdle <= 0 {
		return fmt.Errorf("invalid serve_idle %s: must be positive", c.ServeIdle)
	}
	if c.StaleOK < 0 {
		return fmt.Errorf("invalid stale_ok %s: must not be negative", c.StaleOK)
	}
	if err := registry.ValidatePath(c.ExhibitorPath); err != nil {
		return fmt.Errorf("invalid exhibitor_path: %v", err)
	}
	if _, err := ParseLevel(c.LogLevel); err != nil {
		return err
	}
	if err := c.Source().Validate(); err != nil {
		return err
	}
	if _, err := c.TemplateSources(); err != nil {
		return err
	}
	if c.LogFormat != LogFormatText && c.LogFormat != LogFormatJSON {
		return fmt.Errorf("invalid log_format %q: want text or json", c.LogFormat)
	}
	if _, err := ParseAdminACL(c.ZKAdminACL); err != nil {
		return err
	}
	return nil
}

// TemplateSources are the per-service sources of every template stanza
// (render reads those services from them, every other one from Source).
// The store of a render is shared by its templates, so a service has one
// source: stanzas that disagree about one are an error.
func (c *Config) TemplateSources() (map[string]foreign.Source, error) {
	var out map[string]foreign.Source
	from := map[string]int{}
	for i, t := range c.Templates {
		for svc, sc := range t.Sources {
			src := foreign.Source{Format: foreign.Format(sc.Format), Path: sc.Path}
			if err := registry.ValidateService(svc); err != nil {
				return nil, fmt.Errorf("templates[%d]: sources: %w", i, err)
			}
			if err := src.Validate(); err != nil {
				return nil, fmt.Errorf("templates[%d]: sources %s: %w", i, svc, err)
			}
			if prev, ok := out[svc]; ok && prev != src {
				return nil, fmt.Errorf("templates[%d]: sources %s: %s, but templates[%d] reads it as %s", i, svc, src, from[svc], prev)
			}
			if out == nil {
				out = map[string]foreign.Source{}
			}
			out[svc], from[svc] = src, i
		}
	}
	return out, nil
}

// Source is where query and render read providers (Format, FormatPath).
func (c *Config) Source() foreign.Source {
	return foreign.Source{Format: foreign.Format(c.Format), Path: c.FormatPath}
}

// Log formats (--log-format).
const (
	LogFormatText = "text"
	LogFormatJSON = "json"
)

// LogLevels and LogFormats are the accepted values, for completion.
var (
	LogLevels  = []string{"debug", "info", "warn", "error"}
	LogFormats = []string{LogFormatText, LogFormatJSON}
)

// NewLogger is the logger the configuration asks for, writing to w.
func NewLogger(w io.Writer, level slog.Level, format string) *slog.Logger {
	o := &slog.HandlerOptions{Level: level}
	if format == LogFormatJSON {
		return slog.New(slog.NewJSONHandler(w, o))
	}
	return slog.New(slog.NewTextHandler(w, o))
}

// ParseAdminACL validates zk_admin_acl like `chroot prime --acl`. World
// entries are refused: they would make every provider world-writable.
func ParseAdminACL(specs []string) ([]zk.ACL, error) {
	if len(specs) == 0 {
		return nil, nil
	}
	acl, err := chroot.ParseACL(specs)
	if err != nil {
		return nil, fmt.Errorf("zk_admin_acl: %v", err)
	}
	for i, a := range acl {
		if a.Scheme == "world" {
			return nil, fmt.Errorf("zk_admin_acl: %q names everyone, not an admin: want e.g. digest:ops:HASH:rw", specs[i])
		}
	}
	return acl, nil
}

// ParseLevel parses a log level name.
func ParseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("invalid log_level %q: want debug, info, warn or error", s)
	}
	return l, nil
}

func inFile(path string) string {
	if path == "" {
		return ""
	}
	return " " + path
}

// oneLine folds viper's and mapstructure's multi-line errors into one line.
func oneLine(err error) string {
	s := strings.Join(strings.Fields(strings.ReplaceAll(err.Error(), "\n", " ")), " ")
	return strings.TrimPrefix(s, "decoding failed due to the following error(s): ")
}

// validateMirror checks the mirror: ZooKeeper on both sides (the copy is
// the same znode), and not the registry itself.
func (c *Config) validateMirror() error {
	if c.Mirror == "" {
		return nil
	}
	m, err := registry.ParseURL(c.Mirror)
	if err != nil {
		return fmt.Errorf("mirror: %w", err)
	}
	r, _ := registry.ParseURL(c.Registry)
	zkFamily := func(s string) bool { return s == "zk" || s == "exhibitor" }
	if !zkFamily(m.Scheme) {
		return fmt.Errorf("invalid mirror %q: want a zk:// or exhibitor:// URL", m.Original)
	}
	if !zkFamily(r.Scheme) {
		return fmt.Errorf("invalid mirror %q: mirroring needs a zk:// or exhibitor:// registry, not %s://", m.Original, r.Scheme)
	}
	if SameRegistry(c.Mirror, c.Registry) {
		return fmt.Errorf("invalid mirror %q: it is the registry itself", m.Original)
	}
	return nil
}

// SameRegistry reports whether two registry URLs name the same registry:
// the same scheme, chroot and servers, in any order, default ports filled
// in. URLs that do not parse are compared as written.
func SameRegistry(a, b string) bool {
	ua, err1 := registry.ParseURL(a)
	ub, err2 := registry.ParseURL(b)
	if err1 != nil || err2 != nil {
		return a == b
	}
	return ua.Scheme == ub.Scheme && ua.Chroot == ub.Chroot &&
		slices.Equal(slices.Sorted(slices.Values(ua.Hosts)), slices.Sorted(slices.Values(ub.Hosts)))
}
