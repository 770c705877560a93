package config

import (
	"testing"
	"time"

	"github.com/svcdisco/svcdisco/internal/exitcode"
)

func TestExhibitorKeys(t *testing.T) {
	file := "exhibitor_ca: /etc/ssl/ex.pem\nexhibitor_path: /proxy/exhibitor/v1\nexhibitor_poll: 1m\nensemble_cache: /tmp/e.json\nchroot_create: true\n"
	cfg, err := load(t, []string{"--exhibitor-poll", "5s"}, file)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ExhibitorCA != "/etc/ssl/ex.pem" || cfg.ExhibitorPath != "/proxy/exhibitor/v1" || cfg.ExhibitorPoll != 5*time.Second ||
		cfg.EnsembleCache != "/tmp/e.json" || !cfg.ChrootCreate {
		t.Fatalf("%+v", cfg)
	}
	def, err := load(t, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	if def.ExhibitorPath != "/exhibitor/v1" || def.ExhibitorPoll != 30*time.Second || def.ChrootCreate {
		t.Fatalf("defaults %+v", def)
	}
	for _, args := range [][]string{{"--exhibitor-poll", "-1s"}, {"--exhibitor-path", "exhibitor"}} {
		if _, err := load(t, args, ""); exitcode.Of(err) != exitcode.Usage {
			t.Errorf("%v: %v", args, err)
		}
	}
}
