package render_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/svcdisco/svcdisco/internal/testconsul"
	"github.com/svcdisco/svcdisco/internal/testenv"
	"github.com/svcdisco/svcdisco/internal/testetcd"
	"github.com/svcdisco/svcdisco/internal/testzk"
	"github.com/svcdisco/svcdisco/registry"
)

// examplesDir is templates/examples in this repository.
func examplesDir(t *testing.T) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..", "templates", "examples")
}

// lookPath finds a validator the tests need (Debian's haproxy, nginx).
func lookPath(t *testing.T, name string) string {
	t.Helper()
	for _, p := range []string{name, "/usr/sbin/" + name} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	testenv.Missing(t, name, exec.ErrNotFound)
	return ""
}

// backends are the three registries the examples must render from.
func exampleBackends(t *testing.T) map[string]func(t *testing.T) *env {
	return map[string]func(t *testing.T) *env{
		"zookeeper": func(t *testing.T) *env { return newEnv(t, testzk.Shared(t)) },
		"consul":    func(t *testing.T) *env { return newConsulEnv(t, testconsul.Shared(t)) },
		"etcd": func(t *testing.T) *env {
			return &env{t: t, url: testetcd.Shared(t).URL(), root: testzk.Root(t), dir: t.TempDir()}
		},
	}
}

// registerExample registers a provider with an address (as `register`
// does by default), optionally in maintenance.
func (e *env) registerExample(reg registry.Registry, svc, host, addr string, port int, maintenance bool) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	p := registry.Provider{Service: svc, Host: host, Address: addr, Port: port, Weight: 2,
		Attributes: map[string]string{"version": "1.4.2"}}
	if maintenance {
		p.Status = registry.StatusMaintenance
	}
	if _, err := reg.Register(ctx, p); err != nil {
		e.t.Fatalf("register %s %s:%d: %v", svc, host, port, err)
	}
}

// nginxTest runs `nginx -t` on conf (an http-level include) inside a
// minimal nginx.conf in a scratch prefix: no path outside it is touched.
func nginxTest(t *testing.T, conf string) {
	t.Helper()
	nginx := lookPath(t, "nginx")
	dir := t.TempDir()
	main := "pid " + dir + "/nginx.pid;\nerror_log stderr;\nevents {}\nhttp {\n    access_log off;\n"
	for _, tmp := range []string{"client_body", "proxy", "fastcgi", "uwsgi", "scgi"} {
		main += "    " + tmp + "_temp_path " + filepath.Join(dir, tmp) + ";\n"
	}
	main += "    include " + conf + ";\n}\n"
	cfg := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(cfg, []byte(main), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(nginx, "-t", "-q", "-p", dir, "-c", cfg, "-e", "stderr").CombinedOutput()
	if err != nil {
		b, _ := os.ReadFile(conf)
		t.Fatalf("nginx -t rejects the rendered example: %v\n%s\n--- rendered:\n%s", err, out, b)
	}
}

// TestExamplesPassTheirOwnChecks renders the shipped HAProxy and nginx
// examples from real providers on every backend, with the README's own
// stanza (check_command: haproxy -c -f {{.}}), and validates the results
// with the real haproxy and nginx. Providers in maintenance are listed
// (disabled / down); a service with no providers, or with its only
// provider in maintenance, renders instead of failing.
func TestExamplesPassTheirOwnChecks(t *testing.T) {
	lookPath(t, "haproxy")
	lookPath(t, "nginx")
	for name, newEnv := range exampleBackends(t) {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			ex := examplesDir(t)
			haproxyOut, nginxOut := filepath.Join(e.dir, "haproxy.cfg"), filepath.Join(e.dir, "api.conf")
			cfg := e.file("render.yaml", `templates:
  - source: `+filepath.Join(ex, "haproxy.cfg.tmpl")+`
    destination: `+haproxyOut+`
    check_command: haproxy -c -f {{.}}
  - source: `+filepath.Join(ex, "nginx-upstream.conf.tmpl")+`
    destination: `+nginxOut+`
`, 0o644)
			render := func(what string) (string, string) {
				t.Helper()
				if _, errOut, code := e.run("render", "--once", "--config", cfg); code != 0 {
					t.Fatalf("%s: render exit %d: %s", what, code, errOut)
				}
				nginxTest(t, nginxOut)
				return e.read(haproxyOut), e.read(nginxOut)
			}

			// No providers at all: both render, and both pass.
			h, n := render("no providers")
			if !strings.Contains(h, "# no providers of web") || !strings.Contains(n, "127.0.0.1:9 down") {
				t.Errorf("no providers:\n%s\n%s", h, n)
			}

			reg := e.registry()
			// The only provider of api in maintenance: listed, marked down.
			e.registerExample(reg, "api", "api1.invalid", "127.0.0.21", 9000, true)
			e.registerExample(reg, "web", "web1.invalid", "127.0.0.11", 8080, false)
			e.registerExample(reg, "web", "web2.invalid", "127.0.0.12", 8080, true)
			h, n = render("providers, some in maintenance")
			if !strings.Contains(h, "server web-web1.invalid-8080 127.0.0.11:8080 weight 2 check\n") ||
				!strings.Contains(h, "server web-web2.invalid-8080 127.0.0.12:8080 weight 2 check disabled") {
				t.Errorf("haproxy.cfg:\n%s", h)
			}
			if !strings.Contains(n, "server 127.0.0.21:9000 weight=2 down;") || strings.Contains(n, "api1.invalid:") {
				t.Errorf("nginx conf (want the address, marked down, and no host name):\n%s", n)
			}

			e.registerExample(reg, "api", "api2.invalid", "::1", 9001, false)
			_, n = render("an IPv6 provider")
			if !strings.Contains(n, "server [::1]:9001 weight=2;") || !strings.Contains(n, "# newest: api-api2.invalid-9001") {
				t.Errorf("nginx conf:\n%s", n)
			}
		})
	}
}
