package check

import (
	"context"
	"fmt"
	"log/slog"
	"time"
)

// Defaults of a Config (those of `svcdisco register`).
const (
	DefaultInterval = 2 * time.Second
	DefaultTimeout  = time.Second
	DefaultRise     = 2
	DefaultFall     = 3
)

// Config is a check and how its results become up/down.
type Config struct {
	Target   string        // see Parse
	Interval time.Duration // between probes (default 2s)
	Timeout  time.Duration // per probe (default 1s)
	Rise     int           // consecutive passes that turn a down provider up (default 2)
	Fall     int           // consecutive failures that turn an up provider down (default 3)
}

// WithDefaults fills unset fields.
func (c Config) WithDefaults() Config {
	if c.Interval <= 0 {
		c.Interval = DefaultInterval
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Rise <= 0 {
		c.Rise = DefaultRise
	}
	if c.Fall <= 0 {
		c.Fall = DefaultFall
	}
	return c
}

// Validate parses the target and checks the numbers.
func (c Config) Validate() error {
	if _, err := Parse(c.Target); err != nil {
		return err
	}
	if c.Interval < 0 || c.Timeout < 0 || c.Rise < 0 || c.Fall < 0 {
		return fmt.Errorf("check %s: interval, timeout, rise and fall must not be negative", c.Target)
	}
	return nil
}

// State is the rise/fall state machine. A provider starts down and needs
// Rise consecutive passes to come up (so a service still starting is not
// listed), then Fall consecutive failures to go down. Any result in the
// other direction resets the count, so flapping inside the thresholds never
// changes the state — and never writes to the registry.
type State struct {
	Rise, Fall int
	up         bool
	streak     int // consecutive results contradicting the current state
}

// Up reports the current state.
func (s *State) Up() bool { return s.up }

// Observe feeds one result and reports whether the state changed.
func (s *State) Observe(pass bool) bool {
	if pass == s.up {
		s.streak = 0
		return false
	}
	s.streak++
	need := s.Rise
	if s.up {
		need = s.Fall
	}
	if s.streak < need {
		return false
	}
	s.up, s.streak = pass, 0
	return true
}

// Result is one probe's outcome and the state it leaves.
type Result struct {
	Up      bool          // the state after this probe
	Changed bool          // this probe changed the state
	Pass    bool          // this probe passed
	Err     error         // why it failed (nil when it passed)
	Check   string        // the probe's target
	Took    time.Duration // how long the probe took
	// Streak counts the consecutive results against the state so far, and
	// Need how many change it (Rise while down, Fall while up).
	Streak, Need int
}

// Run probes every Interval (the first probe at once) until ctx is done and
// calls onChange on every up/down transition, from this goroutine.
func Run(ctx context.Context, cfg Config, log *slog.Logger, onChange func(up bool)) error {
	return Probe(ctx, cfg, log, func(r Result) {
		if r.Changed {
			onChange(r.Up)
		}
	})
}

// RunObserved is Run that also tells observe (when not nil) of every
// probe's result and how long it took (for metrics).
func RunObserved(ctx context.Context, cfg Config, log *slog.Logger, observe func(pass bool, took time.Duration), onChange func(up bool)) error {
	return Probe(ctx, cfg, log, func(r Result) {
		if observe != nil {
			observe(r.Pass, r.Took)
		}
		if r.Changed {
			onChange(r.Up)
		}
	})
}

// Probe is Run reporting every probe's result, not only the transitions
// (a backend with a health model shows each failure's output).
func Probe(ctx context.Context, cfg Config, log *slog.Logger, onResult func(Result)) error {
	cfg = cfg.WithDefaults()
	c, err := Parse(cfg.Target)
	if err != nil {
		return err
	}
	st := State{Rise: cfg.Rise, Fall: cfg.Fall}
	tick := time.NewTicker(cfg.Interval)
	defer tick.Stop()
	for {
		pctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
		start := time.Now()
		err := c.Check(pctx)
		took := time.Since(start)
		cancel()
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			log.Debug("check failed", "check", c.String(), "err", err)
		}
		changed := st.Observe(err == nil)
		if changed && st.Up() {
			log.Info("check passing: provider up", "check", c.String(), "rise", cfg.Rise)
		} else if changed {
			log.Warn("check failing: provider down", "check", c.String(), "fall", cfg.Fall, "err", err)
		}
		need := st.Rise
		if st.Up() {
			need = st.Fall
		}
		onResult(Result{Up: st.Up(), Changed: changed, Pass: err == nil, Err: err, Check: c.String(), Took: took, Streak: st.streak, Need: need})
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}
