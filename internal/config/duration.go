package config

import (
	"fmt"
	"os"
	"reflect"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/pflag"
)

var durationType = reflect.TypeOf(time.Duration(0))

// durationKeys are the settings that hold a duration.
var durationKeys = []string{"session_timeout", "timeout", "exhibitor_poll", "serve_idle", "stale_ok"}

// strictDuration decodes durations the way the flags and the environment
// read them: a string with a unit ("5s"). A bare number in the config file
// (timeout: 5) is rejected instead of being read as nanoseconds, which
// would give a 5 ns deadline or a session that never connects.
func strictDuration(from, to reflect.Type, data any) (any, error) {
	if to != durationType || from == durationType {
		return data, nil
	}
	if from.Kind() != reflect.String {
		return nil, fmt.Errorf("bare number %v: want a duration with a unit, like %vs", data, data)
	}
	s := data.(string)
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return nil, fmt.Errorf("%q: want a duration with a unit, like 5s", s)
	}
	return d, nil
}

func decodeHook() mapstructure.DecodeHookFunc {
	return mapstructure.ComposeDecodeHookFunc(strictDuration, mapstructure.StringToSliceHookFunc(","))
}

// checkEnvDurations names the variable and its value when a duration set
// in the environment does not parse (unless a flag overrides it).
func checkEnvDurations(fs *pflag.FlagSet) error {
	for _, key := range durationKeys {
		if f := fs.Lookup(strings.ReplaceAll(key, "_", "-")); f != nil && f.Changed {
			continue
		}
		name := EnvPrefix + "_" + strings.ToUpper(key)
		v, ok := os.LookupEnv(name)
		if !ok {
			continue
		}
		if _, err := time.ParseDuration(strings.TrimSpace(v)); err != nil {
			return fmt.Errorf("invalid %s=%q: want a duration with a unit, like 5s", name, v)
		}
	}
	return nil
}
