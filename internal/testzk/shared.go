package testzk

import (
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
)

var (
	sharedOnce sync.Once
	shared     *Cluster
	sharedErr  error
)

// Shared returns a standalone server shared by every test of the package
// (started on first use; a JVM start costs about a second). Tests keep out of
// each other's way by using their own --root. Call StopShared from TestMain.
func Shared(t testing.TB) *Cluster {
	t.Helper()
	sharedOnce.Do(func() { shared, sharedErr = New(1) })
	if sharedErr != nil {
		Missing(t, sharedErr)
	}
	return shared
}

// StopShared stops the shared server, if one was started.
func StopShared() {
	if shared != nil {
		shared.Stop()
	}
}

// Main runs a package's tests and stops the shared server afterwards.
func Main(m *testing.M) {
	code := m.Run()
	StopShared()
	os.Exit(code)
}

// Root returns a root path unique to t, so tests sharing a server do not see
// each other's providers.
func Root(t testing.TB) string {
	return fmt.Sprintf("/t%d", uniq.Add(1))
}

var uniq atomic.Int64
