package zk

import (
	"math/rand/v2"
	"sync"
)

// hostProvider hands go-zookeeper the servers to try, shuffled, without
// resolving them up front: go-zookeeper's DNSHostProvider fails the whole
// connection when ONE name does not resolve, which turns a single dead host
// in a connect string into an outage. Here a host that does not resolve just
// fails its dial and the next one is tried.
type hostProvider struct {
	mu      sync.Mutex
	servers []string
	next    int
	tried   int // servers tried since the last successful connection
}

func (hp *hostProvider) Init(servers []string) error {
	hp.mu.Lock()
	defer hp.mu.Unlock()
	hp.servers = append([]string(nil), servers...)
	rand.Shuffle(len(hp.servers), func(i, j int) { hp.servers[i], hp.servers[j] = hp.servers[j], hp.servers[i] })
	hp.next, hp.tried = 0, 0
	return nil
}

func (hp *hostProvider) Len() int {
	hp.mu.Lock()
	defer hp.mu.Unlock()
	return len(hp.servers)
}

func (hp *hostProvider) Next() (string, bool) {
	hp.mu.Lock()
	defer hp.mu.Unlock()
	s := hp.servers[hp.next]
	hp.next = (hp.next + 1) % len(hp.servers)
	retryStart := hp.tried >= len(hp.servers)
	if retryStart {
		hp.tried = 0
	}
	hp.tried++
	return s, retryStart
}

func (hp *hostProvider) Connected() {
	hp.mu.Lock()
	defer hp.mu.Unlock()
	hp.tried = 0
}
