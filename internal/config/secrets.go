package config

import (
	"os"
	"strings"

	"github.com/spf13/viper"

	"github.com/svcdisco/svcdisco/registry"
)

// secretEnv are the environment variables that hold a password or token,
// as "user:password" (userPass) or whole.
var secretEnv = []struct {
	name     string
	userPass bool
}{
	{"CONSUL_HTTP_TOKEN", false},
	{"SVCDISCO_EXHIBITOR_AUTH", true},
	{"SVCDISCO_ZK_AUTH", true},
}

// recordSecrets tells the registry package every secret the configuration
// carries, before anything can fail and print it: every message svcdisco
// writes to stderr passes through registry.ScrubWriter.
func recordSecrets(v *viper.Viper) {
	registry.AddURLSecrets(v.GetString("registry"))
	for _, e := range secretEnv {
		val := os.Getenv(e.name)
		if e.userPass {
			for _, pair := range strings.Split(val, ",") {
				if _, pass, ok := strings.Cut(pair, ":"); ok {
					registry.AddSecret(pass)
				}
			}
			continue
		}
		registry.AddSecret(strings.TrimSpace(val))
	}
	if f := os.Getenv("CONSUL_HTTP_TOKEN_FILE"); f != "" {
		if b, err := os.ReadFile(f); err == nil {
			registry.AddSecret(strings.TrimSpace(string(b)))
		}
	}
}
