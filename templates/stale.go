package templates

import (
	"errors"
	"sort"
	"strings"

	"github.com/svcdisco/svcdisco/internal/exitcode"
	"github.com/svcdisco/svcdisco/query"
)

// fillStale puts cached answers (query.FromCache) into store for every
// service the templates read that could not be fetched, when fetching
// failed because the registry could not be reached and o.Answers allows
// stale answers. It returns the stale warning of each service filled
// (service → message). The templates' own guards (min_providers) then
// apply to the cached answers as to fresh ones; `services` (the service
// list) is never answered from the cache.
func fillStale(o Options, store *Store, fetchErr error) map[string]string {
	a := o.Answers
	if a == nil || a.StaleOK <= 0 || exitcode.Of(fetchErr) != exitcode.Unreachable {
		return nil
	}
	stale := map[string]string{}
	tried := map[string]bool{}
	for pass := 0; pass < maxPasses; pass++ {
		progress := false
		for _, t := range o.Templates {
			ex, _ := t.Execute(store)
			if ex == nil {
				continue
			}
			for _, svc := range ex.Missing {
				if tried[svc] {
					continue
				}
				tried[svc] = true
				ps, err := query.FromCache(query.Options{Service: svc, Answers: a}, fetchErr)
				if !query.IsStale(err) {
					o.logger().Warn("no stale answer", "service", svc, "err", err)
					continue
				}
				store.SetProviders(svc, ps)
				stale[svc] = oneLine(err.Error())
				progress = true
			}
		}
		if !progress {
			break
		}
	}
	return stale
}

// markStale turns a result rendered from stale answers into exit code 6,
// naming them, unless something else already went wrong with it.
func markStale(res Result, stale map[string]string) Result {
	if res.Code != exitcode.OK || res.Status == StatusRefused || res.Execution == nil {
		return res
	}
	var msgs []string
	for _, svc := range res.Services {
		if m, ok := stale[svc]; ok {
			msgs = append(msgs, m)
		}
	}
	if len(msgs) == 0 {
		return res
	}
	sort.Strings(msgs)
	res.Stale = true
	res.Code = exitcode.Stale
	res.Reason = strings.Join(msgs, "; ")
	res.Err = exitcode.New(exitcode.Stale, errors.New(res.Reason))
	return res
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
