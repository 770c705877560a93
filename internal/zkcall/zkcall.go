// Package zkcall bounds go-zookeeper calls by a context. go-zookeeper has
// no context: while disconnected a call waits for the next connection, so
// without this a deadline (--timeout) could not end it. The call itself
// carries on in the background until go-zookeeper answers it.
package zkcall

import "context"

// Do1 runs f, returning early with ctx.Err() when ctx ends first.
func Do1[T any](ctx context.Context, f func() (T, error)) (T, error) {
	v, _, err := Do2(ctx, func() (T, struct{}, error) { v, err := f(); return v, struct{}{}, err })
	return v, err
}

// Do2 is Do1 for calls with two results (most of go-zookeeper's).
func Do2[A, B any](ctx context.Context, f func() (A, B, error)) (A, B, error) {
	type result struct {
		a   A
		b   B
		err error
	}
	var a A
	var b B
	if err := ctx.Err(); err != nil {
		return a, b, err
	}
	ch := make(chan result, 1)
	go func() {
		a, b, err := f()
		ch <- result{a, b, err}
	}()
	select {
	case res := <-ch:
		return res.a, res.b, res.err
	case <-ctx.Done():
		return a, b, ctx.Err()
	}
}

// Do3 is Do1 for calls with three results (the watch variants).
func Do3[A, B, C any](ctx context.Context, f func() (A, B, C, error)) (A, B, C, error) {
	type abc struct {
		a A
		b B
		c C
	}
	v, err := Do1(ctx, func() (abc, error) {
		a, b, c, err := f()
		return abc{a, b, c}, err
	})
	return v.a, v.b, v.c, err
}
