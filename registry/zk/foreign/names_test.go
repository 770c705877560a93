package foreign

import (
	"regexp"
	"testing"
)

// TestEntryNames checks the name rules that tell ServerSet and Nerve entries
// apart against the regular expressions they replace.
func TestEntryNames(t *testing.T) {
	memberRE := regexp.MustCompile(`^member_[0-9]{10}$`)
	nerveRE := regexp.MustCompile(`^.+_[0-9]{10}$`)
	for _, name := range []string{
		"member_0000000042", "member_000000004", "member_00000000420", "member_000000004x",
		"i-0abc_0000000007", "x_0000000007", "_0000000007", "x__0000000007", "x_000000000٣",
		"web1:80@1700000000000", "", "member_", "member_0000000042\n",
	} {
		if got, want := isMemberName(name), memberRE.MatchString(name); got != want {
			t.Errorf("isMemberName(%q) = %v, want %v", name, got, want)
		}
		if got, want := isNerveName(name), nerveRE.MatchString(name); got != want {
			t.Errorf("isNerveName(%q) = %v, want %v", name, got, want)
		}
	}
	if !isMemberName("member_0000000042") || !isNerveName("i-0abc_0000000007") {
		t.Error("the plain cases are not recognised")
	}
}
