package consul

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/svcdisco/svcdisco/coord"
	"github.com/svcdisco/svcdisco/internal/exitcode"
	"github.com/svcdisco/svcdisco/registry"
)

var _ coord.Semaphorer = (*Registry)(nil)

// SemaphorePrefix is the prefix `consul lock -n N <root>/locks/NAME` uses:
// the semaphore's state lives in <prefix>/.lock (the same key as the
// exclusive lock, so a lock and a semaphore on one name refuse each other)
// and each contender owns <prefix>/<session id>.
func (r *Registry) SemaphorePrefix(name string) string {
	return strings.TrimPrefix(r.opts.Root, "/") + "/locks/" + name
}

// Semaphore takes one of limit slots of name with the API's Semaphore
// recipe, exactly as `consul lock -n limit` does, on a session created and
// renewed as Lock's is (so losing it is noticed the same way). The token is
// the ModifyIndex of <prefix>/.lock after our slot was written into it: it
// increases from one acquisition to the next, but with limit > 1 several
// holders are legitimately live at once, so it orders them rather than
// fencing one off.
func (r *Registry) Semaphore(ctx context.Context, name string, limit int) (coord.Hold, error) {
	if err := registry.ValidateService(name); err != nil {
		return nil, exitcode.Usagef("lock name: %v", err)
	}
	if limit < 1 {
		return nil, exitcode.Usagef("lock %s: invalid limit %d: must be at least 1", name, limit)
	}
	prefix := r.SemaphorePrefix(name)
	key := prefix + "/" + api.DefaultSemaphoreKey
	return r.hold(ctx, name, key, func(sid string) (recipe, error) {
		s, err := r.client.SemaphoreOpts(&api.SemaphoreOptions{
			Prefix: prefix, Limit: limit, Session: sid, SemaphoreWaitTime: time.Second,
		})
		if err != nil {
			return recipe{}, err
		}
		return recipe{
			acquire: s.Acquire,
			release: func() error {
				if err := s.Release(); err != nil {
					return err
				}
				r.tidy("lock "+name, s.Destroy(), api.ErrSemaphoreInUse)
				return nil
			},
			ours: func(p *api.KVPair) bool {
				holders, _, err := semaphoreHolders(p)
				return err == nil && holders[sid]
			},
			abandon: func(ctx context.Context) {
				// The recipe leaves its contender key behind when it
				// gives up; the session's release would only unlock it.
				_, _ = r.client.KV().Delete(prefix+"/"+sid, (&api.WriteOptions{}).WithContext(ctx))
			},
		}, nil
	})
}

// semaphoreHolders decodes <prefix>/.lock as the API's recipe writes it.
func semaphoreHolders(p *api.KVPair) (map[string]bool, int, error) {
	var v struct {
		Limit   int
		Holders map[string]bool
	}
	if p.Flags != api.SemaphoreFlagValue {
		return nil, 0, fmt.Errorf("%s is not a semaphore", p.Key)
	}
	if err := json.Unmarshal(p.Value, &v); err != nil {
		return nil, 0, fmt.Errorf("decode %s: %w", p.Key, err)
	}
	return v.Holders, v.Limit, nil
}

// describeSemaphore names the holders of a full semaphore, for the
// "not acquired in time" message.
func describeSemaphore(p *api.KVPair) string {
	holders, limit, err := semaphoreHolders(p)
	if err != nil || len(holders) == 0 {
		return ""
	}
	ids := make([]string, 0, len(holders))
	for id := range holders {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return fmt.Sprintf("%d of %d slots, sessions %s", len(ids), limit, strings.Join(ids, ", "))
}
