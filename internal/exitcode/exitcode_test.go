package exitcode

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/svcdisco/svcdisco/registry"
)

func TestOf(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"nil", nil, OK},
		{"plain", errors.New("boom"), Failure},
		{"usage", Usagef("bad port %q", "x"), Usage},
		{"wrapped usage", fmt.Errorf("query: %w", Usagef("bad")), Usage},
		{"not enough", New(NotEnough, errors.New("1 of 3")), NotEnough},
		{"deadline", fmt.Errorf("list: %w", context.DeadlineExceeded), Unreachable},
		{"classified deadline", New(NotEnough, fmt.Errorf("wait: %w", context.DeadlineExceeded)), NotEnough},
		{"check", New(CheckFailed, errors.New("rejected")), CheckFailed},
		{"bare sentinel", fmt.Errorf("dial: %w", registry.ErrUnreachable), Unreachable},
		{"bare invalid", fmt.Errorf("x: %w", registry.ErrInvalid), Usage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Of(tt.err); got != tt.want {
				t.Errorf("Of(%v) = %d, want %d", tt.err, got, tt.want)
			}
		})
	}
	if New(Usage, nil) != nil {
		t.Error("New(code, nil) must stay nil")
	}
}

// TestSentinels: a program outside the module tells classified errors
// apart with errors.Is on registry's exported sentinels.
func TestSentinels(t *testing.T) {
	tests := []struct {
		err  error
		want error
	}{
		{fmt.Errorf("query: %w", Usagef("bad port")), registry.ErrInvalid},
		{New(NotEnough, errors.New("1 of 3")), registry.ErrNotEnough},
		{fmt.Errorf("open: %w", Unreachablef("zk down")), registry.ErrUnreachable},
		{New(CheckFailed, errors.New("rejected")), registry.ErrCheckFailed},
	}
	all := []error{registry.ErrInvalid, registry.ErrNotEnough, registry.ErrUnreachable, registry.ErrCheckFailed}
	for _, tt := range tests {
		for _, s := range all {
			if got := errors.Is(tt.err, s); got != (s == tt.want) {
				t.Errorf("errors.Is(%q, %q) = %v", tt.err, s, got)
			}
		}
	}
}
