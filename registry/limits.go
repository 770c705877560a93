package registry

import (
	"encoding/json"
	"fmt"
)

// MaxProviderData is the largest provider JSON svcdisco registers, in
// bytes. ZooKeeper refuses any request over jute.maxbuffer (1 MiB by
// default) and drops the whole session that sent it — every other
// provider held on that session with it — so the size is checked before
// anything is sent, on every backend, leaving 48 KiB of the MiB for the
// znode path and the request's framing.
const MaxProviderData = 1000 * 1000

// CheckSize reports a provider whose JSON would exceed MaxProviderData,
// naming the provider and its size. (EncodeData leaves Nerve's labels out
// rather than exceed it.)
func (p Provider) CheckSize() error {
	b, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("provider of %s: %w", p.Service, err)
	}
	if len(b) <= MaxProviderData {
		return nil
	}
	id := p.ID
	if id == "" {
		id = DefaultID(p.Service, p.Host, p.Port)
	}
	return fmt.Errorf("provider %s of service %s is %d bytes as JSON: over the %d-byte limit (ZooKeeper refuses requests over 1 MB); keep attributes small",
		id, p.Service, len(b), MaxProviderData)
}
