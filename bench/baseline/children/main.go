// Command children is the floor `svcdisco query` is measured against in
// `make bench`: the least a Go program can do to list a service. It
// connects to ZooKeeper, calls getChildren once and prints the names, one
// a line, then closes the session. With -get it also reads every child's
// data with pipelined gets (a goroutine per child, as Curator, Nerve and
// Synapse clients do) and prints each child's data on its own line: the
// floor for `svcdisco query -o json`.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"
)

func main() {
	servers := flag.String("servers", "127.0.0.1:2181", "ZooKeeper servers, comma-separated host:port")
	path := flag.String("path", "/svcdisco/services/web", "the service's znode")
	get := flag.Bool("get", false, "also get every child's data (pipelined) and print it")
	flag.Parse()
	if err := run(strings.Split(*servers, ","), *path, *get); err != nil {
		fmt.Fprintln(os.Stderr, "children:", err)
		os.Exit(1)
	}
}

func run(servers []string, path string, get bool) error {
	conn, _, err := zk.Connect(servers, 10*time.Second, zk.WithLogInfo(false))
	if err != nil {
		return err
	}
	defer conn.Close()
	names, _, err := conn.Children(path)
	if err != nil {
		return fmt.Errorf("children %s: %w", path, err)
	}
	w := bufio.NewWriter(os.Stdout)
	if !get {
		for _, name := range names {
			w.WriteString(name)
			w.WriteByte('\n')
		}
		return w.Flush()
	}
	data := make([][]byte, len(names))
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Go(func() { data[i], _, errs[i] = conn.Get(path + "/" + name) })
	}
	wg.Wait()
	for i := range names {
		if errs[i] != nil && errs[i] != zk.ErrNoNode {
			return fmt.Errorf("get %s/%s: %w", path, names[i], errs[i])
		}
		w.Write(data[i])
		w.WriteByte('\n')
	}
	return w.Flush()
}
