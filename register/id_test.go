package register

import (
	"strings"
	"testing"
)

// IDs follow the rule of service names; "" means the default ID.
func TestValidateID(t *testing.T) {
	for _, ok := range []string{"", "web-h1-80", "a", "p1.prod_x", strings.Repeat("a", 128)} {
		if err := ValidateID(ok); err != nil {
			t.Errorf("ValidateID(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"-web", ".x", "we b", "a/b", strings.Repeat("a", 129), "wéb"} {
		if err := ValidateID(bad); err == nil {
			t.Errorf("ValidateID(%q) accepted", bad)
		}
	}
}
