package main

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	gozk "github.com/go-zookeeper/zk"
)

// churn measures the ensemble's ceiling for what every direct call costs
// it: a session created, one getChildren, the session closed, by workers
// in this process (no process start) for d. It returns cycles per second;
// each cycle is two ordered writes (createSession, closeSession).
func churn(servers []string, dir string, workers int, d time.Duration) (float64, error) {
	var cycles atomic.Int64
	var firstErr error
	var once sync.Once
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				if err := cycle(servers, dir); err != nil {
					once.Do(func() { firstErr = err })
					return
				}
				cycles.Add(1)
			}
		}()
	}
	wg.Wait()
	return float64(cycles.Load()) / d.Seconds(), firstErr
}

func cycle(servers []string, dir string) error {
	conn, events, err := gozk.Connect(servers, 10*time.Second, gozk.WithLogInfo(false))
	if err != nil {
		return err
	}
	defer conn.Close()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case ev := <-events:
			if ev.State != gozk.StateHasSession {
				continue
			}
			_, _, err := conn.Children(dir)
			return err
		case <-timeout:
			return fmt.Errorf("no session in 10s")
		}
	}
}
