// Package agent is `svcdisco agent`: the node's boot hook. Every *.json,
// *.yaml or *.yml file in a directory declares one provider (the fields of
// `svcdisco register`'s flags, plus an optional check); the agent holds
// them all on one registry session and reconciles when the directory
// changes, touching only the providers whose files changed.
package agent

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/svcdisco/svcdisco/register"
	"github.com/svcdisco/svcdisco/register/check"
	"github.com/svcdisco/svcdisco/registry"
)

// File is one provider file. JSON is read as YAML (a subset), so both
// forms share these keys:
//
//	service: web                      # required
//	port: 8080                        # required
//	host: web1.example.com            # default: this machine's FQDN
//	address: 10.0.0.5                 # default: this machine's primary IP
//	id: web-main                      # default: service-host-port
//	attributes: {zone: us-east-1a}
//	tags: [primary, v2]               # Consul's service tags
//	endpoints: {admin: "web1.example.com:9090"}
//	weight: 1
//	maintenance: false                # true: registered but hidden
//	check: http://127.0.0.1:8080/health
//	check_interval: 2s
//	check_timeout: 1s
//	rise: 2
//	fall: 3
//
// Unknown keys are an error, so a typo is reported instead of ignored.
type File struct {
	Service       string            `yaml:"service"`
	Port          int               `yaml:"port"`
	Host          string            `yaml:"host"`
	Address       string            `yaml:"address"`
	ID            string            `yaml:"id"`
	Attributes    map[string]string `yaml:"attributes"`
	Tags          []string          `yaml:"tags"`
	Endpoints     map[string]string `yaml:"endpoints"`
	Weight        *int              `yaml:"weight"`
	Maintenance   bool              `yaml:"maintenance"`
	Check         string            `yaml:"check"`
	CheckInterval string            `yaml:"check_interval"`
	CheckTimeout  string            `yaml:"check_timeout"`
	Rise          int               `yaml:"rise"`
	Fall          int               `yaml:"fall"`
}

// Spec is a validated provider file: what the agent registers.
type Spec struct {
	Provider registry.Provider
	Check    *check.Config
	// Defaulted names the fields the file left out and the defaults
	// filled: host, address, id, weight.
	Defaulted []string
}

// Defaults fill what a file leaves out.
type Defaults struct {
	Host    string
	Address string
}

// FileError is a file that could not be used, and why.
type FileError struct {
	File string
	Err  error
}

func (e FileError) Error() string { return fmt.Sprintf("%s: %v", e.File, e.Err) }

// IsProviderFile reports whether name is a file the agent reads: *.json,
// *.yaml or *.yml, not hidden (editors' and Chef's temporary files are).
func IsProviderFile(name string) bool {
	base := filepath.Base(name)
	if strings.HasPrefix(base, ".") {
		return false
	}
	switch filepath.Ext(base) {
	case ".json", ".yaml", ".yml":
		return true
	}
	return false
}

// LoadDir reads every provider file in dir. Files that do not parse or
// validate are returned as problems; the others as specs keyed by path.
// Only a directory that cannot be read is an error.
func LoadDir(dir string, d Defaults) (map[string]Spec, []FileError, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("config dir: %w", err)
	}
	specs := map[string]Spec{}
	var problems []FileError
	for _, e := range entries {
		if e.IsDir() || !IsProviderFile(e.Name()) {
			continue
		}
		path := filepath.Join(dir, e.Name())
		spec, err := LoadFile(path, d)
		if err != nil {
			problems = append(problems, FileError{File: path, Err: err})
			continue
		}
		specs[path] = spec
	}
	sort.Slice(problems, func(i, j int) bool { return problems[i].File < problems[j].File })
	return specs, problems, nil
}

// LoadFile reads and validates one provider file.
func LoadFile(path string, d Defaults) (Spec, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Spec{}, err
	}
	return ParseFile(data, d)
}

// ParseFile parses and validates the contents of one provider file.
func ParseFile(data []byte, d Defaults) (Spec, error) {
	var f File
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		if errors.Is(err, io.EOF) {
			return Spec{}, errors.New("empty file")
		}
		return Spec{}, fmt.Errorf("parse: %s", strings.Join(strings.Fields(err.Error()), " "))
	}
	return f.Spec(d)
}

// Spec validates the file and applies the defaults.
func (f File) Spec(d Defaults) (Spec, error) {
	p := registry.Provider{
		Service: f.Service, Port: f.Port, Host: f.Host, Address: f.Address, ID: f.ID,
		Attributes: f.Attributes, Tags: f.Tags, Weight: 1, Status: registry.StatusUp,
	}
	if f.Service == "" {
		return Spec{}, errors.New("service is required")
	}
	if f.Port == 0 {
		return Spec{}, errors.New("port is required")
	}
	defaulted, err := f.fill(&p, d)
	if err != nil {
		return Spec{}, err
	}
	if f.Maintenance {
		p.Status = registry.StatusMaintenance
	}
	if len(f.Endpoints) > 0 {
		p.Endpoints = map[string]registry.Endpoint{}
	}
	for name, hp := range f.Endpoints {
		host, port, err := net.SplitHostPort(hp)
		n, perr := strconv.Atoi(port)
		if err != nil || perr != nil || host == "" {
			return Spec{}, fmt.Errorf("invalid endpoint %s: %q: want host:port", name, hp)
		}
		p.Endpoints[name] = registry.Endpoint{Host: host, Port: n}
	}
	if err := p.Validate(); err != nil {
		return Spec{}, err
	}
	spec := Spec{Provider: p, Defaulted: defaulted}
	if f.Check == "" {
		if f.CheckInterval != "" || f.CheckTimeout != "" || f.Rise != 0 || f.Fall != 0 {
			return Spec{}, errors.New("check_interval, check_timeout, rise and fall need a check")
		}
		return spec, nil
	}
	c := check.Config{Target: f.Check, Rise: f.Rise, Fall: f.Fall}
	if c.Interval, err = duration("check_interval", f.CheckInterval); err != nil {
		return Spec{}, err
	}
	if c.Timeout, err = duration("check_timeout", f.CheckTimeout); err != nil {
		return Spec{}, err
	}
	if err := c.Validate(); err != nil {
		return Spec{}, err
	}
	c = c.WithDefaults()
	spec.Check = &c
	return spec, nil
}

// fill applies the defaults to what the file left out, returning the
// names of the fields it filled, and checks the address and id given.
func (f File) fill(p *registry.Provider, d Defaults) ([]string, error) {
	var defaulted []string
	if p.Host == "" {
		p.Host = d.Host
		defaulted = append(defaulted, "host")
	}
	if p.Address == "" {
		p.Address = d.Address
		defaulted = append(defaulted, "address")
	} else if net.ParseIP(p.Address) == nil {
		return nil, fmt.Errorf("invalid address %q: want an IP address", p.Address)
	}
	if f.ID == "" {
		defaulted = append(defaulted, "id")
	} else if err := register.ValidateID(f.ID); err != nil {
		return nil, err
	}
	if f.Weight != nil {
		p.Weight = *f.Weight
	} else {
		defaulted = append(defaulted, "weight")
	}
	return defaulted, nil
}

func duration(key, s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("invalid %s %q: want a positive duration like 2s", key, s)
	}
	return d, nil
}
