package nodecache

import (
	"github.com/svcdisco/svcdisco/registry"
)

// The protocol is HTTP/1.1 over the unix socket, JSON bodies, so it can be
// debugged with curl --unix-socket:
//
//	GET /v1/providers/SERVICE[?stale_ok=DURATION]
//	    200 Listing: every provider, maintenance included, unsorted
//	    503 Error:   the cache is stale and stale_ok does not cover it
//	GET /v1/watch/SERVICE?index=N[&wait=DURATION]
//	    200 Index: returns once the listing's index differs from N, or
//	    after wait (default 1m), with the current index
//	GET /v1/services
//	    200 Services: every service with its provider count
//	GET /v1/status
//	    200 Status
//	POST /v1/query  QueryRequest {"args":["query","web","-o","json",...]}
//	    200 exactly what `svcdisco query ...` prints; otherwise an Error
//	    with the exit code the command would have had (400: 2, 409: 3,
//	    503: 4, the cache stale or the registry unreachable)
//
// Errors are 400 (bad input), 421 (another registry or root than the
// agent's, see HeaderRegistry), 503 (stale or registry unreachable) or 504
// (the first listing did not arrive in time), with an Error body.
const (
	PathProviders = "/v1/providers/"
	PathWatch     = "/v1/watch/"
	PathServices  = "/v1/services"
	PathStatus    = "/v1/status"
	PathQuery     = "/v1/query"
)

// QueryRequest is the body of a query request: a `svcdisco query` command
// line without the program name. Global flags are accepted and ignored
// (the agent's own registry settings apply).
type QueryRequest struct {
	Args []string `json:"args"`
}

// Headers a client sends to say which registry and root it wants answers
// from (the agent refuses with 421 when they are not its own).
const (
	HeaderRegistry = "Svcdisco-Registry"
	HeaderRoot     = "Svcdisco-Root"
)

// Listing is the body of a providers answer.
type Listing struct {
	Providers []Entry `json:"providers"`
	Index     uint64  `json:"index"`
	// Stale answers carry their age in milliseconds.
	Stale bool  `json:"stale,omitempty"`
	AgeMs int64 `json:"age_ms,omitempty"`
	// FullFieldsOnly says the registry answers fields-only listings with
	// full providers (Consul), so clients must not reduce them.
	FullFieldsOnly bool `json:"full_fields_only,omitempty"`
}

// Entry is a provider with the backend name that orders equal timestamps
// (Provider.Name is not in the provider's JSON contract).
type Entry struct {
	Name     string            `json:"name"`
	Provider registry.Provider `json:"provider"`
}

// Index is the body of a watch answer.
type Index struct {
	Index uint64 `json:"index"`
}

// Services is the body of a services answer.
type Services struct {
	Services []registry.ServiceCount `json:"services"`
}

// Status is the body of a status answer.
type Status struct {
	Online  bool     `json:"online"`
	Watched []string `json:"watched"`
	// Waiting is how many watch requests wait for a change right now.
	Waiting int64 `json:"waiting"`
}

// Error is the body of every error answer.
type Error struct {
	Error string `json:"error"`
	// Stale is set when the error is the cache's staleness (the caller may
	// ask again allowing an older answer, or go to the registry).
	Stale bool `json:"stale,omitempty"`
	// Exit is the exit code the command would have had (query requests).
	Exit int `json:"exit,omitempty"`
}
