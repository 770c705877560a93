package exitcode

import (
	"context"
	"errors"
	"fmt"
	"testing"
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
