package config

import (
	"testing"
	"time"

	"github.com/svcdisco/svcdisco/internal/exitcode"
)

func TestAgentSocketAndServeKeys(t *testing.T) {
	t.Setenv("SVCDISCO_AGENT_SOCKET", "/run/env.sock")
	cfg, err := load(t, nil, "serve: /run/svcdisco/agent.sock\nserve_group: chef\nserve_idle: 2m\n")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.AgentSocket != "/run/env.sock" || cfg.Serve != "/run/svcdisco/agent.sock" || cfg.ServeGroup != "chef" || cfg.ServeIdle != 2*time.Minute {
		t.Errorf("config %+v", cfg)
	}
	cfg, err = load(t, []string{"--agent-socket", "/run/flag.sock"}, "agent_socket: /run/file.sock\n")
	if err != nil || cfg.AgentSocket != "/run/flag.sock" {
		t.Errorf("flag over env and file: %+v %v", cfg, err)
	}
	if _, err := load(t, nil, "serve_idle: 0s\n"); exitcode.Of(err) != exitcode.Usage {
		t.Errorf("serve_idle 0: %v, want a usage error", err)
	}
	if _, err := load(t, nil, "serve_idle: 5\n"); exitcode.Of(err) != exitcode.Usage {
		t.Errorf("serve_idle bare number: %v, want a usage error", err)
	}
	if cfg.ServeIdle != Defaults.ServeIdle {
		t.Errorf("serve_idle default %v", cfg.ServeIdle)
	}
}
