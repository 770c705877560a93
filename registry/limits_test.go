package registry

import (
	"fmt"
	"strings"
	"testing"
)

// The reproduction: 11 attributes of 100 KB are over ZooKeeper's
// 1 MB limit; 9 are not.
func TestProviderSizeLimit(t *testing.T) {
	big := func(n int) Provider {
		p := Provider{Service: "web", Host: "h", Port: 80, Attributes: map[string]string{}}
		for i := 0; i < n; i++ {
			p.Attributes[fmt.Sprintf("a%d", i)] = strings.Repeat("x", 100*1000)
		}
		return p
	}
	if err := big(9).Validate(); err != nil {
		t.Errorf("900 KB of attributes: %v", err)
	}
	err := big(11).Validate()
	if err == nil || !strings.Contains(err.Error(), "provider web-h-80 of service web is 1100") {
		t.Errorf("1.1 MB of attributes: %v, want an error naming the provider and its size", err)
	}
}
