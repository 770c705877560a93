package etcd

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/etcdserverpb"
	"google.golang.org/grpc"

	"github.com/svcdisco/svcdisco/internal/testetcd"
	"github.com/svcdisco/svcdisco/registry"
)

// rpcLog records the unary requests a client sends.
type rpcLog struct {
	mu   sync.Mutex
	reqs []any
}

func (l *rpcLog) intercept(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	l.mu.Lock()
	l.reqs = append(l.reqs, req)
	l.mu.Unlock()
	return invoker(ctx, method, req, reply, cc, opts...)
}

func (l *rpcLog) take() []any {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.reqs
	l.reqs = nil
	return out
}

// A fields-only listing is ONE keys-only range read, a full one ONE range
// read; maintenance (hidden by default) costs neither any extra request.
func TestListingIsOneRangeRead(t *testing.T) {
	c := testetcd.Shared(t)
	var log rpcLog
	r, err := Open(ctxT(t), Options{Endpoints: c.Endpoints(), Root: testRoot(t), TTL: 10 * time.Second,
		Logger: slog.New(slog.DiscardHandler), DialOptions: []grpc.DialOption{grpc.WithUnaryInterceptor(log.intercept)}})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for i := range 3 {
		reg, err := r.Register(ctxT(t), provider("h1", 80+i))
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			if err := reg.SetStatus(ctxT(t), registry.StatusMaintenance); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, fieldsOnly := range []bool{true, false} {
		log.take()
		ps, err := r.Providers(ctxT(t), "web", registry.ListOptions{FieldsOnly: fieldsOnly})
		if err != nil || len(ps) != 2 {
			t.Fatalf("FieldsOnly=%v: %+v, %v (want the 2 providers not in maintenance)", fieldsOnly, ps, err)
		}
		reqs := log.take()
		if len(reqs) != 1 {
			t.Fatalf("FieldsOnly=%v: %d requests, want 1: %v", fieldsOnly, len(reqs), reqs)
		}
		rr, ok := reqs[0].(*etcdserverpb.RangeRequest)
		if !ok || rr.KeysOnly != fieldsOnly {
			t.Errorf("FieldsOnly=%v: request %T %+v, want a range read with KeysOnly=%v", fieldsOnly, reqs[0], reqs[0], fieldsOnly)
		}
		for _, p := range ps {
			if p.FieldsOnly != fieldsOnly || p.Host != "h1" || p.Status != registry.StatusUp {
				t.Errorf("FieldsOnly=%v: provider %+v", fieldsOnly, p)
			}
		}
	}
}
