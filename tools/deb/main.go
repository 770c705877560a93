// Command deb builds svcdisco's Debian package from nfpm.yaml with nfpm's
// Go library (its deb packager only: nothing else of nfpm is linked in).
//
//	go run . -config ../../packaging/nfpm.yaml -target ../../bin/
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/goreleaser/nfpm/v2"
	"github.com/goreleaser/nfpm/v2/deb"
)

func main() {
	config := flag.String("config", "nfpm.yaml", "nfpm configuration (environment variables expanded)")
	target := flag.String("target", ".", "directory for the .deb")
	flag.Parse()
	path, err := build(*config, *target)
	if err != nil {
		fmt.Fprintln(os.Stderr, "deb:", err)
		os.Exit(1)
	}
	fmt.Println(path)
}

func build(config, target string) (string, error) {
	cfg, err := nfpm.ParseFileWithEnvMapping(config, os.Getenv)
	if err != nil {
		return "", fmt.Errorf("%s: %w", config, err)
	}
	info, err := cfg.Get("deb")
	if err != nil {
		return "", err
	}
	info = nfpm.WithDefaults(info)
	if err := nfpm.Validate(info); err != nil {
		return "", fmt.Errorf("%s: %w", config, err)
	}
	path := filepath.Join(target, deb.Default.ConventionalFileName(info))
	f, err := os.Create(path)
	if err != nil {
		return "", err
	}
	if err := deb.Default.Package(info, f); err != nil {
		f.Close()
		os.Remove(path)
		return "", fmt.Errorf("package %s: %w", path, err)
	}
	return path, f.Close()
}
