package zkcall

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"

	"github.com/go-zookeeper/zk"

	"github.com/svcdisco/svcdisco/internal/exitcode"
	"github.com/svcdisco/svcdisco/registry"
)

// Unreachable reports whether err means ZooKeeper could not be reached in
// time: a passed deadline, a lost or closed connection, an expired session.
// It is the one place that knows which go-zookeeper and network errors
// those are; registry/zk and chroot both classify through it.
func Unreachable(err error) bool {
	if err == nil {
		return false
	}
	var netErr net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) ||
		errors.Is(err, zk.ErrConnectionClosed) || errors.Is(err, zk.ErrNoServer) ||
		errors.Is(err, zk.ErrSessionExpired) || errors.Is(err, zk.ErrClosing) ||
		errors.As(err, &netErr) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED)
}

// Classify returns err as exit 4 (matching registry.ErrUnreachable) when
// Unreachable says so, and unchanged otherwise. what names the ZooKeeper
// ensemble (or the operation) for the message; it may be empty.
func Classify(what string, err error) error {
	if !Unreachable(err) {
		return err
	}
	if what == "" {
		return exitcode.New(exitcode.Unreachable, fmt.Errorf("zookeeper: %w: %w", registry.ErrUnreachable, err))
	}
	return exitcode.New(exitcode.Unreachable, fmt.Errorf("zookeeper %s: %w: %w", what, registry.ErrUnreachable, err))
}
