package registry

import (
	"encoding/json"
	"fmt"
)

// EncodeData is the data a registrant writes for its provider: the
// provider JSON (what `query -o json` prints) plus the keys Airbnb Nerve
// writes that the provider JSON does not already have, so that Synapse's
// ZooKeeper watcher reads a svcdisco provider fully:
//
//	host, port, weight  already provider keys, same meaning and types
//	name                the provider's ID (Synapse names the HAProxy server after it)
//	labels              the attributes (Nerve's labels are string pairs too)
//
// DecodeData ignores name and labels (the provider's own keys say the
// same), so data written before they existed decodes as before. labels
// repeats the attributes, so it is left out when the data would exceed
// MaxProviderData with it: the size limit stays that of the provider JSON.
func EncodeData(p Provider) ([]byte, error) {
	b, err := p.MarshalJSON()
	if err != nil {
		return nil, err
	}
	name, err := json.Marshal(p.ID)
	if err != nil {
		return nil, err
	}
	labels := p.Attributes
	if labels == nil {
		labels = map[string]string{}
	}
	lb, err := json.Marshal(labels)
	if err != nil {
		return nil, err
	}
	if len(b) < 2 || b[len(b)-1] != '}' {
		return nil, fmt.Errorf("provider JSON of %s: not an object", p.Service)
	}
	out := make([]byte, 0, len(b)+len(name)+len(lb)+20)
	out = append(out, b[:len(b)-1]...)
	out = append(out, `,"name":`...)
	out = append(out, name...)
	if len(out)+len(lb)+len(`,"labels":}`) <= MaxProviderData {
		out = append(out, `,"labels":`...)
		out = append(out, lb...)
	}
	return append(out, '}'), nil
}
