package coord

import (
	"strings"
	"testing"
)

// Groups follow the rule of service names (registry.ValidName).
func TestValidateGroup(t *testing.T) {
	for _, ok := range []string{"web", "a", "lead-1.prod_x", strings.Repeat("a", 128)} {
		if err := ValidateGroup(ok); err != nil {
			t.Errorf("ValidateGroup(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", "-web", ".x", "we b", "a/b", strings.Repeat("a", 129), "wéb"} {
		if err := ValidateGroup(bad); err == nil {
			t.Errorf("ValidateGroup(%q) accepted", bad)
		}
	}
}
