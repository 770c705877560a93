package testenv

import (
	"fmt"
	"net"
	"testing"
)

// TestFreePortsBelowEphemeralRange: distinct ports, each free to listen on,
// and none from the range the kernel gives outgoing connections.
func TestFreePortsBelowEphemeralRange(t *testing.T) {
	ports, err := FreePorts(20)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	low := ephemeralLow()
	for _, p := range ports {
		if seen[p] {
			t.Errorf("port %d given twice", p)
		}
		seen[p] = true
		if p >= low || p < 10000 {
			t.Errorf("port %d is outside [10000, %d)", p, low)
		}
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			t.Errorf("port %d: %v", p, err)
			continue
		}
		l.Close()
	}
}
