// Package testjava compiles and drives small Java programs that exercise
// real Java clients (Apache Curator) against svcdisco's ZooKeeper, so
// interoperability is tested with the other side's own code. A program
// talks over stdin/stdout, one line per command and per answer.
package testjava

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/svcdisco/svcdisco/internal/testenv"
)

// Compile compiles class (public class class, in src) against jars, the
// names of Debian's /usr/share/java/<name>.jar, and returns the classpath
// to run it with. A missing jar or javac is testenv.Missing; pkg names the
// Debian package for the hint.
func Compile(t *testing.T, class, src, pkg string, jars ...string) string {
	t.Helper()
	var cp []string
	for _, j := range jars {
		p := "/usr/share/java/" + j + ".jar"
		if _, err := os.Stat(p); err != nil {
			testenv.Missing(t, "Java library "+j+" (apt-get install "+pkg+")", err)
		}
		cp = append(cp, p)
	}
	if _, err := exec.LookPath("javac"); err != nil {
		testenv.Missing(t, "javac", err)
	}
	dir := t.TempDir()
	file := filepath.Join(dir, class+".java")
	if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("javac", "-cp", strings.Join(cp, ":"), "-d", dir, file).CombinedOutput(); err != nil {
		t.Fatalf("javac %s: %v\n%s", class, err, out)
	}
	return strings.Join(append(cp, dir), ":")
}

// Process is a running line-driven program (Java, Python, ...).
type Process struct {
	cmd   *exec.Cmd
	in    io.WriteCloser
	lines chan string
	done  chan struct{}
}

// Start runs name with args; it is killed when the test ends.
func Start(t *testing.T, name string, args ...string) *Process {
	t.Helper()
	cmd := exec.Command(name, args...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &Process{cmd: cmd, in: stdin, lines: make(chan string, 100), done: make(chan struct{})}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
		close(p.lines)
	}()
	go func() { _ = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-p.done })
	return p
}

// Expect waits for the next line and fails unless it starts with prefix;
// it returns the line. The bound is generous: it only ends a hung test
// (a JVM starting on a loaded machine takes seconds).
func (p *Process) Expect(t *testing.T, prefix string) string {
	t.Helper()
	select {
	case l, ok := <-p.lines:
		if !ok {
			t.Fatalf("%s exited before saying %q", p.cmd.Path, prefix)
		}
		if !strings.HasPrefix(l, prefix) {
			t.Fatalf("%s said %q, want %q…", p.cmd.Path, l, prefix)
		}
		return l
	case <-time.After(2 * time.Minute):
		t.Fatalf("%s did not say %q", p.cmd.Path, prefix)
	}
	return ""
}

// Send writes one line to the program's stdin.
func (p *Process) Send(t *testing.T, line string) {
	t.Helper()
	if _, err := io.WriteString(p.in, line+"\n"); err != nil {
		t.Fatal(err)
	}
}

// Close closes stdin (the programs here then close their sessions and
// exit) and waits for the exit.
func (p *Process) Close(t *testing.T) {
	t.Helper()
	_ = p.in.Close()
	select {
	case <-p.done:
	case <-time.After(2 * time.Minute):
		t.Fatalf("%s did not exit after stdin closed", p.cmd.Path)
	}
}
