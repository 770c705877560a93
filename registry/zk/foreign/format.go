// Package foreign reads registrations other systems write to ZooKeeper —
// Apache Curator x-discovery ServiceInstances, Twitter ServerSet member_
// nodes and Airbnb Nerve entries — and maps each onto svcdisco's provider
// shape, so query, render and the Chef helpers can read a fleet before it
// changes how its services register. It wraps a registry.Registry: only
// Providers and Watch change; svcdisco's own registrations are untouched.
package foreign

import (
	"fmt"
	"strings"

	"github.com/svcdisco/svcdisco/internal/exitcode"
	"github.com/svcdisco/svcdisco/registry"
)

// Format names the layout a service's entries are read in.
type Format string

// The formats of --format.
const (
	// FormatSvcdisco is svcdisco's own host:port@millis entries (the
	// default): fields-only listings cost one getChildren.
	FormatSvcdisco Format = "svcdisco"
	// FormatAuto tells each entry's format by its name, then its data
	// (Detect). It always reads every entry's data: 1 + N gets.
	FormatAuto Format = "auto"
	// FormatCurator is Curator x-discovery: <basePath>/<name>/<id>.
	FormatCurator Format = "curator"
	// FormatServerSet is Twitter ServerSets: member_NNNNNNNNNN children.
	FormatServerSet Format = "serverset"
	// FormatNerve is Airbnb Nerve: <zk_path>/<instance_id>_NNNNNNNNNN.
	FormatNerve Format = "nerve"
)

// Formats lists every format, the default first.
var Formats = []Format{FormatSvcdisco, FormatAuto, FormatCurator, FormatServerSet, FormatNerve}

// ServicePlaceholder in a path stands for the service asked for.
const ServicePlaceholder = "{service}"

// ParseFormat validates a --format value; "" is FormatSvcdisco.
func ParseFormat(s string) (Format, error) {
	if s == "" {
		return FormatSvcdisco, nil
	}
	for _, f := range Formats {
		if Format(s) == f {
			return f, nil
		}
	}
	names := make([]string, len(Formats))
	for i, f := range Formats {
		names[i] = string(f)
	}
	return "", exitcode.Usagef("invalid format %q (--format): want %s", s, strings.Join(names, ", "))
}

// Source says where and how a service's entries are read.
type Source struct {
	Format Format
	// Path is the znode whose children are the service's entries, under
	// the registry URL's chroot; ServicePlaceholder is replaced by the
	// service. "" is svcdisco's own <root>/services/<service>.
	Path string
}

// Validate checks a source before anything is read.
func (s Source) Validate() error {
	if _, err := ParseFormat(string(s.Format)); err != nil {
		return err
	}
	if s.Path == "" {
		return nil
	}
	if err := registry.ValidatePath(strings.ReplaceAll(s.Path, ServicePlaceholder, "x")); err != nil || s.Path == "/" {
		return exitcode.Usagef("invalid path %q (--path, format_path): want an absolute znode path like /discovery/%s", s.Path, ServicePlaceholder)
	}
	return nil
}

// Own reports whether the source is svcdisco's own entries at their own
// place, which the wrapped registry lists itself.
func (s Source) Own() bool {
	return (s.Format == "" || s.Format == FormatSvcdisco) && s.Path == ""
}

// dir is the absolute znode holding service's entries.
func (s Source) dir(chroot, own, service string) string {
	if s.Path == "" {
		return own
	}
	return strings.TrimSuffix(chroot, "/") + strings.ReplaceAll(s.Path, ServicePlaceholder, service)
}

// normal is s with the default format filled in.
func (s Source) normal() Source {
	if s.Format == "" {
		s.Format = FormatSvcdisco
	}
	return s
}

func (s Source) String() string {
	if s.Path == "" {
		return string(s.Format)
	}
	return fmt.Sprintf("%s at %s", s.Format, s.Path)
}
