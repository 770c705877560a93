// Package check probes whether a provider can serve: the health checks of
// `svcdisco register --check` and agent files, in Airbnb Nerve's manner
// (http, tcp, exec), plus the rise/fall state machine that keeps a flapping
// check from flapping the registration.
package check

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// Checker runs one probe. A nil error means up.
type Checker interface {
	Check(ctx context.Context) error
	String() string
}

// Parse turns a check target into a Checker:
//
//	http://127.0.0.1:8080/health   up on a 2xx or 3xx answer (redirects are not followed)
//	https://…                       the same over TLS
//	tcp://127.0.0.1:8080           up when a connection opens
//	exec:/usr/local/bin/probe -q   up when the command exits 0 (run by /bin/sh -c)
func Parse(target string) (Checker, error) {
	if cmd, ok := strings.CutPrefix(target, "exec:"); ok {
		if strings.TrimSpace(cmd) == "" {
			return nil, fmt.Errorf("invalid check %q: exec: needs a command", target)
		}
		return execCheck{cmd: cmd}, nil
	}
	u, err := url.Parse(target)
	if err != nil {
		return nil, fmt.Errorf("invalid check %q: %v", target, err)
	}
	switch u.Scheme {
	case "http", "https":
		if u.Host == "" {
			return nil, fmt.Errorf("invalid check %q: no host", target)
		}
		return newHTTPCheck(target), nil
	case "tcp":
		if _, _, err := net.SplitHostPort(u.Host); err != nil || u.Path != "" {
			return nil, fmt.Errorf("invalid check %q: want tcp://host:port", target)
		}
		return tcpCheck{addr: u.Host}, nil
	}
	return nil, fmt.Errorf("invalid check %q: want http://, https://, tcp:// or exec:", target)
}

type httpCheck struct {
	url    string
	client *http.Client
}

func newHTTPCheck(target string) httpCheck {
	return httpCheck{url: target, client: &http.Client{
		// A fresh connection per probe, as Nerve does: a kept-alive
		// connection can pass while the listener no longer accepts.
		Transport:     &http.Transport{DisableKeepAlives: true, Proxy: nil},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

func (c httpCheck) String() string { return c.url }

func (c httpCheck) Check(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url, nil)
	if err != nil {
		return err
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode >= 400 {
		return fmt.Errorf("HTTP %s", resp.Status)
	}
	return nil
}

type tcpCheck struct{ addr string }

func (c tcpCheck) String() string { return "tcp://" + c.addr }

func (c tcpCheck) Check(ctx context.Context) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", c.addr)
	if err != nil {
		return err
	}
	return conn.Close()
}

type execCheck struct{ cmd string }

func (c execCheck) String() string { return "exec:" + c.cmd }

// Check runs the command in its own process group, so a timeout kills the
// probe and anything it started, not just the shell.
func (c execCheck) Check(ctx context.Context) error {
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", c.cmd)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return fmt.Errorf("timed out: %w", ctx.Err())
	}
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return fmt.Errorf("%v: %s", err, lastLine(out.String()))
	}
	return err
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}
