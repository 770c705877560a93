// Package testwait is how integration tests wait: for a condition, with a
// generous deadline, never for a fixed time. It bounds waits for things that
// happen asynchronously (a session expiring, a watch firing); it never
// asserts how fast they happen.
package testwait

import (
	"testing"
	"time"
)

// For polls cond every 20ms until it holds, failing t after d.
func For(t testing.TB, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("timed out after %s waiting for %s", d, what)
}
