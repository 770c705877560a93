// Command maxrss runs a command and writes its peak resident set size, in
// KiB, to the file -o names. `make bench` measures processes through it
// because a process started directly by a large one (the benchmark) starts
// its own count from the parent's peak: on Linux, exec folds the memory
// it replaces into the figure, and Go starts children sharing the
// parent's memory until exec. This program is small, so what it folds in
// is below anything measured.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"syscall"
)

func main() {
	out := flag.String("o", "", "file to write the peak RSS (KiB) to")
	flag.Parse()
	if *out == "" || flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: maxrss -o FILE CMD [ARG]...")
		os.Exit(2)
	}
	cmd := exec.Command(flag.Arg(0), flag.Args()[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		fmt.Fprintln(os.Stderr, "maxrss:", err)
		os.Exit(1)
	}
	rss := cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss
	if werr := os.WriteFile(*out, fmt.Appendf(nil, "%d\n", rss), 0o644); werr != nil {
		fmt.Fprintln(os.Stderr, "maxrss:", werr)
		os.Exit(1)
	}
	os.Exit(cmd.ProcessState.ExitCode())
}
