// Command gendocs writes svcdisco's man pages (section 1, one per
// command): `make man` runs it.
//
//	go run ./internal/gendocs -out bin/man/man1
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/svcdisco/svcdisco/internal/mandoc"
)

func main() {
	out := flag.String("out", "bin/man/man1", "directory for the pages (svcdisco.1, svcdisco-query.1, …)")
	flag.Parse()
	if err := mandoc.GenMan(*out); err != nil {
		fmt.Fprintln(os.Stderr, "gendocs:", err)
		os.Exit(1)
	}
}
