package consul

import (
	"context"
	"fmt"
)

// aclHint says how to fix an empty answer that ACLs may have emptied.
const aclHint = "give a token that may read the service and its nodes (service:read, node:read) with --consul-token-file or CONSUL_HTTP_TOKEN"

// aclHidden decides whether an empty listing of service can be trusted.
// Consul filters what a token may not read out of answers, and says so
// (X-Consul-Results-Filtered-By-Acls) only for some requests and tokens —
// not for the anonymous token under default_policy=deny. An empty answer
// is therefore refused when Consul said it filtered it, or when the token
// cannot see a single node of the catalog (a cluster always has one, the
// agent's own): an empty file rendered from it would take every provider
// out of rotation. A token once seen able to read nodes is not asked again.
func (r *Registry) aclHidden(ctx context.Context, service string, filtered bool) error {
	if filtered {
		return fmt.Errorf("consul %s: list %s: Consul's ACLs hid every instance from this token; %s", r.addr, service, aclHint)
	}
	if r.seesNodes.Load() {
		return nil
	}
	nodes, _, err := r.client.Catalog().Nodes(r.q(ctx))
	if err != nil {
		return r.wrap("list "+service, err)
	}
	if len(nodes) == 0 {
		return fmt.Errorf("consul %s: list %s: the ACL token cannot read any node, so Consul answers every listing empty; %s", r.addr, service, aclHint)
	}
	r.seesNodes.Store(true)
	return nil
}
