package zk

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/svcdisco/svcdisco/coord"
	"github.com/svcdisco/svcdisco/internal/exitcode"
	"github.com/svcdisco/svcdisco/internal/zkcall"
	"github.com/svcdisco/svcdisco/registry"
)

// lockName is Curator's InterProcessMutex LOCK_NAME: every lock node is
// "_c_<uuid>-lock-<10-digit sequence>", and the lowest sequence after the
// last "lock-" holds.
const lockName = "lock-"

var _ coord.Locker = (*Registry)(nil)

// LockPath is the znode under which lock name's nodes live:
// <chroot><root>/locks/<name>.
func (r *Registry) LockPath(name string) string { return r.base + "/locks/" + name }

// Lock takes the exclusive lock name with Curator's InterProcessMutex
// recipe on the same path, so a JVM using Curator and svcdisco exclude each
// other: create an ephemeral sequential node, hold when it is the lowest,
// otherwise watch only the predecessor (no herd) and look again when it
// goes. Before acting on "the lowest node is mine" it confirms the node's
// EphemeralOwner is this session (CURATOR-696). The Hold's token is the
// node's czxid.
func (r *Registry) Lock(ctx context.Context, name string) (coord.Hold, error) {
	if err := registry.ValidateService(name); err != nil {
		return nil, exitcode.Usagef("lock name: %v", err)
	}
	dir := r.LockPath(name)
	if err := r.ensurePath(ctx, dir); err != nil {
		return nil, r.lockErr(name, "create "+dir, err)
	}
	for {
		node, err := r.createLockNode(ctx, dir)
		if err != nil {
			return nil, r.lockErr(name, "create lock node", err)
		}
		h, again, err := r.waitTurn(ctx, name, dir, node)
		if err != nil || !again {
			return h, err
		}
		// Our node vanished while we waited (session expired): start over.
		r.log.Warn("lock node vanished while waiting; queueing again", "lock", name, "node", node)
	}
}

func (r *Registry) lockErr(name, what string, err error) error {
	var held *coord.HeldError
	if errors.As(err, &held) {
		return err
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) || errors.Is(err, zk.ErrNoServer) {
		return r.unreachable(fmt.Sprintf("lock %s: %s", name, what), err)
	}
	return fmt.Errorf("lock %s: %s: %w", name, what, err)
}

// createLockNode creates our node; a create whose answer was lost with the
// connection is found again by its uuid, so it never leaves a stray node.
func (r *Registry) createLockNode(ctx context.Context, dir string) (string, error) {
	prefix := "_c_" + newUUID() + "-" + lockName
	data := []byte(lockOwnerData())
	acl := zk.WorldACL(zk.PermAll)
	reconnected, unsub := r.session.subscribe()
	defer unsub()
	for {
		p, err := zkcall.Do1(ctx, func() (string, error) {
			return r.conn.Create(dir+"/"+prefix, data, zk.FlagEphemeral|zk.FlagSequence, acl)
		})
		if err == nil {
			return p, nil
		}
		if !connectionTrouble(err) {
			return "", err
		}
		for {
			kids, _, lerr := zkcall.Do2(ctx, func() ([]string, *zk.Stat, error) { return r.conn.Children(dir) })
			if lerr == nil {
				for _, k := range kids {
					if strings.HasPrefix(k, prefix) {
						return dir + "/" + k, nil
					}
				}
				break
			}
			if !connectionTrouble(lerr) {
				return "", lerr
			}
			if err := awaitReconnect(ctx, reconnected); err != nil {
				return "", err
			}
		}
	}
}

// connectionTrouble reports errors that a reconnect cures: the request was
// cut off with the connection (go-zookeeper also hands back raw write
// errors such as a broken pipe), or the session it was sent on is gone.
func connectionTrouble(err error) bool {
	var ne net.Error
	return errors.Is(err, zk.ErrConnectionClosed) || errors.Is(err, zk.ErrSessionExpired) ||
		errors.Is(err, zk.ErrSessionMoved) || errors.Is(err, zk.ErrNoServer) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.EOF) ||
		errors.As(err, &ne)
}

// awaitReconnect waits for the next (re)connect (at most a second: the
// error may have come without a disconnect), or ctx.
func awaitReconnect(ctx context.Context, reconnected <-chan struct{}) error {
	t := time.NewTimer(time.Second)
	defer t.Stop()
	select {
	case <-reconnected:
		return nil
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// waitTurn waits until node is the lowest. again reports that node is gone
// and the caller must queue anew.
func (r *Registry) waitTurn(ctx context.Context, name, dir, node string) (h coord.Hold, again bool, err error) {
	reconnected, unsub := r.session.subscribe()
	defer unsub()
	me := node[len(dir)+1:]
	for {
		kids, _, err := zkcall.Do2(ctx, func() ([]string, *zk.Stat, error) { return r.conn.Children(dir) })
		if err != nil && connectionTrouble(err) && ctx.Err() == nil {
			if err := awaitReconnect(ctx, reconnected); err != nil {
				return nil, false, r.giveUp(ctx, name, dir, node, nil, err)
			}
			continue // a waiter keeps its place across a connection blip
		}
		if err != nil {
			return nil, false, r.giveUp(ctx, name, dir, node, nil, err)
		}
		kids = sortLockNodes(kids)
		i := slices.Index(kids, me)
		if i < 0 {
			return nil, true, nil
		}
		if i == 0 {
			h, err := r.confirm(ctx, name, node)
			switch {
			case errors.Is(err, errNotOurs):
				return nil, true, nil
			case err != nil && connectionTrouble(err) && ctx.Err() == nil:
				if err := awaitReconnect(ctx, reconnected); err != nil {
					return nil, false, r.giveUp(ctx, name, dir, node, nil, err)
				}
				continue // look again (and confirm again) after the reconnect
			}
			return h, false, err
		}
		ok, _, ch, err := zkcall.Do3(ctx, func() (bool, *zk.Stat, <-chan zk.Event, error) {
			return r.conn.ExistsW(dir + "/" + kids[i-1])
		})
		if err != nil && connectionTrouble(err) && ctx.Err() == nil {
			if err := awaitReconnect(ctx, reconnected); err != nil {
				return nil, false, r.giveUp(ctx, name, dir, node, kids, err)
			}
			continue
		}
		if err != nil {
			return nil, false, r.giveUp(ctx, name, dir, node, kids, err)
		}
		if !ok {
			continue
		}
		select {
		case <-ch:
		case <-reconnected: // a new session may have taken our node
		case <-ctx.Done():
			return nil, false, r.giveUp(ctx, name, dir, node, kids, ctx.Err())
		}
	}
}

var errNotOurs = errors.New("lock node owned by another session")

// confirm checks that node belongs to this session before we act on it.
func (r *Registry) confirm(ctx context.Context, name, node string) (coord.Hold, error) {
	sid := r.conn.SessionID()
	ok, st, err := zkcall.Do2(ctx, func() (bool, *zk.Stat, error) { return r.conn.Exists(node) })
	if err != nil && connectionTrouble(err) && ctx.Err() == nil {
		return nil, err // the caller waits for the reconnect and looks again
	}
	if err != nil {
		return nil, r.giveUp(ctx, name, "", node, nil, err)
	}
	if !ok || st.EphemeralOwner != sid {
		return nil, errNotOurs
	}
	return r.newHold(name, node, st.Czxid, sid), nil
}

// giveUp deletes our waiting node (in the background: ctx may be over) and
// classifies why we stopped: the lock held elsewhere when ctx ended, the
// ensemble unreachable, or another error.
func (r *Registry) giveUp(ctx context.Context, name, dir, node string, kids []string, err error) error {
	go func() { _ = r.conn.Delete(node, -1) }()
	if ctx.Err() != nil && len(kids) > 0 && r.conn.State() == zk.StateHasSession {
		return exitcode.New(exitcode.LockTimeout, &coord.HeldError{Name: name, Holder: r.describe(dir, kids[0])})
	}
	return r.lockErr(name, "wait", err)
}

// describe names the holder node and what it says about itself (svcdisco
// writes its host and pid, Curator its IP address).
func (r *Registry) describe(dir, kid string) string {
	data, _, err := r.conn.Get(dir + "/" + kid)
	if err != nil || len(data) == 0 {
		return kid
	}
	return fmt.Sprintf("%s (%s)", kid, strings.TrimSpace(string(data)))
}

// sortLockNodes keeps the lock nodes (those with "lock-" and a sequence)
// sorted by the sequence after the last "lock-", as Curator's
// StandardLockInternalsDriver does.
func sortLockNodes(kids []string) []string {
	out := kids[:0:0]
	for _, k := range kids {
		if lockSeq(k) != "" {
			out = append(out, k)
		}
	}
	slices.SortFunc(out, func(a, b string) int { return strings.Compare(lockSeq(a), lockSeq(b)) })
	return out
}

func lockSeq(k string) string {
	i := strings.LastIndex(k, lockName)
	if i < 0 {
		return ""
	}
	return k[i+len(lockName):]
}

func lockOwnerData() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("svcdisco host=%s pid=%d", host, os.Getpid())
}

// newUUID is a random (version 4) UUID in its 36-character form, as
// Curator's protected-mode prefix uses.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
