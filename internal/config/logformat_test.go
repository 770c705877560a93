package config

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/svcdisco/svcdisco/internal/exitcode"
)

// TestLogFormat: log_format comes from the config file, a flag wins, and a
// bad value is a usage error naming it.
func TestLogFormat(t *testing.T) {
	cfg, err := load(t, nil, "log_format: json\n")
	if err != nil || cfg.LogFormat != LogFormatJSON {
		t.Fatalf("from the file: %+v, %v", cfg, err)
	}
	cfg, err = load(t, []string{"--log-format", "text"}, "log_format: json\n")
	if err != nil || cfg.LogFormat != LogFormatText {
		t.Fatalf("flag over file: %q, %v", cfg.LogFormat, err)
	}
	if cfg, err = load(t, nil, ""); err != nil || cfg.LogFormat != LogFormatText {
		t.Fatalf("default: %+v, %v", cfg, err)
	}
	_, err = load(t, []string{"--log-format", "xml"}, "")
	if exitcode.Of(err) != exitcode.Usage || !strings.Contains(err.Error(), `"xml"`) {
		t.Fatalf("--log-format xml: %v (exit %d)", err, exitcode.Of(err))
	}
}

// TestNewLoggerJSON: the json format writes one parseable object a line.
func TestNewLoggerJSON(t *testing.T) {
	var b bytes.Buffer
	log := NewLogger(&b, slog.LevelInfo, LogFormatJSON)
	log.Debug("hidden")
	log.Info("registered", "service", "web", "port", 8080)
	var rec map[string]any
	if err := json.Unmarshal(b.Bytes(), &rec); err != nil {
		t.Fatalf("%q: %v", b.String(), err)
	}
	if rec["msg"] != "registered" || rec["service"] != "web" || rec["port"] != float64(8080) || rec["level"] != "INFO" {
		t.Fatalf("record %v", rec)
	}
}
