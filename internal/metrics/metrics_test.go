package metrics

import (
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestRegisteredGauge: a provider counts once under its current state; a
// status change moves it, a deregistration removes it.
func TestRegisteredGauge(t *testing.T) {
	g := func(svc, state string) float64 { return testutil.ToFloat64(registered.WithLabelValues(svc, state)) }
	Registered("m1", "mtest", "up")
	Registered("m2", "mtest", "up")
	if g("mtest", "up") != 2 || testutil.ToFloat64(registrations.WithLabelValues("mtest")) != 2 {
		t.Fatalf("up %v, registrations %v", g("mtest", "up"), testutil.ToFloat64(registrations.WithLabelValues("mtest")))
	}
	Registered("m1", "mtest", "maintenance")
	if g("mtest", "up") != 1 || g("mtest", "maintenance") != 1 {
		t.Fatalf("after maintenance: up %v, maintenance %v", g("mtest", "up"), g("mtest", "maintenance"))
	}
	Deregistered("m1", "mtest")
	Deregistered("m2", "mtest")
	Deregistered("m2", "mtest") // twice: no negative gauge
	if g("mtest", "up") != 0 || g("mtest", "maintenance") != 0 {
		t.Fatalf("after deregistering: up %v, maintenance %v", g("mtest", "up"), g("mtest", "maintenance"))
	}
}

// TestServe: the endpoint answers in the text format; a bad address is a
// usage error and a taken port an error.
func TestServe(t *testing.T) {
	stop, err := Serve("127.0.0.1:0", discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	stop()
	if _, err := Serve("9464", discardLogger()); err == nil || !strings.Contains(err.Error(), "--metrics-addr") {
		t.Fatalf("bad address: %v", err)
	}
	stop, err = Serve("127.0.0.1:0", discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	CheckObserved("stest", true, 3*time.Millisecond)
	if n := testutil.CollectAndCount(checkDuration, "svcdisco_check_duration_seconds"); n < 1 {
		t.Fatalf("histogram series: %d", n)
	}
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
