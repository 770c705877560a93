package templates

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"text/template"
	"time"
)

// Render bounds. A template is a program: without them one loop
// (`range until 100000000`) can run for minutes, take gigabytes of memory
// and write a file of hundreds of megabytes. When a bound trips, the
// template is refused and its destination keeps its old contents.
const (
	// DefaultMaxSize is the largest rendered output (and template source)
	// in bytes, unless Spec.MaxSize says otherwise: 16 MiB, far above any
	// real configuration file.
	DefaultMaxSize = 16 << 20
	// DefaultRenderTimeout bounds one execution of a template unless
	// Spec.RenderTimeout says otherwise (`render` passes --timeout).
	DefaultRenderTimeout = 10 * time.Second
	// MaxRange is the most elements `until`, `untilStep` and `seq` may
	// produce: they allocate the whole list before the first iteration.
	MaxRange = 1000000
)

// errTooLarge is returned by the output writer past the size bound.
var errTooLarge = errors.New("output too large")

func (s Spec) maxSize() int64 {
	if s.MaxSize > 0 {
		return s.MaxSize
	}
	return DefaultMaxSize
}

func (s Spec) renderTimeout() time.Duration {
	if s.RenderTimeout > 0 {
		return s.RenderTimeout
	}
	return DefaultRenderTimeout
}

// readSource reads a template source that must be a regular file of at
// most max bytes: a FIFO would block for ever and /dev/zero never ends.
func readSource(path string, max int64) ([]byte, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("not a regular file (%s): a template source must be one", info.Mode().Type())
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("larger than %d bytes", max)
	}
	return b, nil
}

// boundedBuffer collects output until the size bound or the deadline,
// then fails every write, which stops the template's execution.
type boundedBuffer struct {
	ctx context.Context
	buf bytes.Buffer
	max int64
}

func (b *boundedBuffer) Write(p []byte) (int, error) {
	if err := b.ctx.Err(); err != nil {
		return 0, err
	}
	if int64(b.buf.Len()+len(p)) > b.max {
		return 0, errTooLarge
	}
	return b.buf.Write(p)
}

// boundedFuncs replaces sprig's list builders with ones that refuse more
// than MaxRange elements (or repeat beyond maxSize bytes) up front.
func boundedFuncs(m template.FuncMap, maxSize int64) {
	until := m["until"].(func(int) []int)
	untilStep := m["untilStep"].(func(int, int, int) []int)
	seq := m["seq"].(func(...int) string)
	m["until"] = func(n int) ([]int, error) {
		if err := checkRange("until", 0, n, 1); err != nil {
			return nil, err
		}
		return until(n), nil
	}
	m["untilStep"] = func(start, stop, step int) ([]int, error) {
		if err := checkRange("untilStep", start, stop, step); err != nil {
			return nil, err
		}
		return untilStep(start, stop, step), nil
	}
	m["seq"] = func(ps ...int) (string, error) {
		if len(ps) > 0 {
			first := 1
			if len(ps) > 1 {
				first = ps[0]
			}
			if err := checkRange("seq", first, ps[len(ps)-1], 1); err != nil {
				return "", err
			}
		}
		return seq(ps...), nil
	}
	m["repeat"] = func(n int, s string) (string, error) {
		if n > 0 && int64(len(s)) > 0 && int64(n) > maxSize/int64(len(s)) {
			return "", fmt.Errorf("repeat %d: more than the %d-byte output limit", n, maxSize)
		}
		if n < 0 {
			n = 0
		}
		return repeat(s, n), nil
	}
}

func checkRange(fn string, start, stop, step int) error {
	span := stop - start
	if span < 0 {
		span = -span
	}
	if step < 0 {
		step = -step
	}
	if step == 0 {
		step = 1
	}
	if span/step > MaxRange {
		return fmt.Errorf("%s: %d elements, more than the limit of %d", fn, span/step, MaxRange)
	}
	return nil
}

func repeat(s string, n int) string { return string(bytes.Repeat([]byte(s), n)) }
