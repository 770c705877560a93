package nodecache

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/svcdisco/svcdisco/registry"
)

// ErrNoAgent wraps every failure to reach the agent (no socket, nobody
// listening, a broken answer): the caller goes to the registry instead.
var ErrNoAgent = errors.New("node cache agent not answering")

// Client asks an agent's socket. It implements registry.Registry for the
// reading methods (Providers, Services, Watch), so query.Run and the
// template engine run on it unchanged and give the answers they give on the
// registry itself; writing methods are refused.
type Client struct {
	Path string
	// StaleOK is the oldest stale answer the caller accepts (0: none).
	StaleOK time.Duration
	// OnStale is called with the age of each stale answer served.
	OnStale func(service string, age time.Duration)
	// Registry and Root are the ones the caller is configured for; an
	// agent serving others refuses ("" asks whatever it serves).
	Registry, Root string

	http *http.Client
}

// NewClient returns a client of the socket at path.
func NewClient(path string) *Client {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		},
		MaxIdleConnsPerHost: 64,
		DisableCompression:  true,
	}
	return &Client{Path: path, http: &http.Client{Transport: tr}}
}

// StaleAnswerError is a 503 of the agent about its staleness.
type StaleAnswerError struct{ Msg string }

func (e *StaleAnswerError) Error() string { return "node cache: " + e.Msg }
func (e *StaleAnswerError) Unwrap() error { return ErrStale }

// Ping checks that the agent answers.
func (c *Client) Ping(ctx context.Context) (Status, error) {
	var st Status
	err := c.get(ctx, PathStatus, &st)
	return st, err
}

// Providers implements registry.Registry: every provider, filtered by
// maintenance as the registry filters. Fields-only listings get full
// providers (the cache holds them anyway).
func (c *Client) Providers(ctx context.Context, service string, opts registry.ListOptions) ([]registry.Provider, error) {
	if err := registry.ValidateService(service); err != nil {
		return nil, err
	}
	q := url.Values{}
	if c.StaleOK > 0 {
		q.Set("stale_ok", c.StaleOK.String())
	}
	var l Listing
	if err := c.get(ctx, PathProviders+service+"?"+q.Encode(), &l); err != nil {
		return nil, err
	}
	if l.Stale && c.OnStale != nil {
		c.OnStale(service, time.Duration(l.AgeMs)*time.Millisecond)
	}
	all := make([]registry.Provider, len(l.Providers))
	for i, e := range l.Providers {
		all[i] = e.Provider
		all[i].Name = e.Name
	}
	return view(all, opts, l.FullFieldsOnly), nil
}

// fieldsOnly is p as a fields-only listing of ZooKeeper or etcd gives it:
// what the entry's name holds (service, host, port, registration time),
// the default ID and weight, and the status.
func fieldsOnly(p registry.Provider) registry.Provider {
	return registry.Provider{Service: p.Service, ID: registry.DefaultID(p.Service, p.Host, p.Port), Host: p.Host,
		Port: p.Port, Weight: registry.DefaultWeight, Status: p.Status, Timestamp: p.Timestamp, Name: p.Name, FieldsOnly: true}
}

// Services implements registry.Registry.
func (c *Client) Services(ctx context.Context) ([]registry.ServiceCount, error) {
	var s Services
	if err := c.get(ctx, PathServices, &s); err != nil {
		return nil, err
	}
	if len(s.Services) == 0 {
		return nil, nil
	}
	return s.Services, nil
}

// Watch implements registry.Registry with the agent's own watch: it
// returns once the agent watches the service, and then long-polls the
// agent for changes of the listing's index.
func (c *Client) Watch(ctx context.Context, service string) (<-chan struct{}, error) {
	var ix Index
	if err := c.get(ctx, PathWatch+service, &ix); err != nil {
		return nil, err
	}
	out := make(chan struct{}, 1)
	go func() {
		defer close(out)
		index := ix.Index
		for ctx.Err() == nil {
			var next Index
			err := c.get(ctx, PathWatch+service+"?index="+strconv.FormatUint(index, 10)+"&wait=1m", &next)
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				signal(out) // the caller re-lists, and sees the failure
				select {
				case <-ctx.Done():
					return
				case <-time.After(time.Second):
				}
				continue
			}
			if next.Index != index {
				index = next.Index
				signal(out)
			}
		}
	}()
	return out, nil
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// errReadOnly refuses the writing methods.
var errReadOnly = errors.New("the node cache socket only answers reads")

// Register implements registry.Registry: refused.
func (c *Client) Register(context.Context, registry.Provider) (registry.Registration, error) {
	return nil, errReadOnly
}

// SetStatus implements registry.Registry: refused.
func (c *Client) SetStatus(context.Context, registry.Provider, string) error { return errReadOnly }

// Close releases idle connections.
func (c *Client) Close() error {
	c.http.CloseIdleConnections()
	return nil
}

// get asks path and decodes a 200 answer into v. Failures to reach the
// agent wrap ErrNoAgent; a stale answer is a *StaleAnswerError; a context
// that ends is reported as the registry being unreachable in time.
func (c *Client) get(ctx context.Context, path string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://agent"+path, nil)
	if err != nil {
		return err
	}
	c.label(req)
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("node cache %s: %w: %w", c.Path, registry.ErrUnreachable, ctx.Err())
		}
		return fmt.Errorf("node cache %s: %w: %v", c.Path, ErrNoAgent, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("node cache %s: %w: %v", c.Path, ErrNoAgent, err)
	}
	if resp.StatusCode != http.StatusOK {
		var e Error
		if json.Unmarshal(body, &e) != nil || e.Error == "" {
			return fmt.Errorf("node cache %s: %w: %s", c.Path, ErrNoAgent, resp.Status)
		}
		switch {
		case e.Stale:
			return &StaleAnswerError{Msg: e.Error}
		case resp.StatusCode == http.StatusBadRequest:
			return errors.New(e.Error)
		}
		return fmt.Errorf("node cache %s: %w: %s", c.Path, ErrNoAgent, e.Error)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("node cache %s: %w: %v", c.Path, ErrNoAgent, err)
	}
	return nil
}

// QueryError is a query request the agent answered with a failure: the
// exit code the command would have had, and its message.
type QueryError struct {
	Exit  int
	Msg   string
	Stale bool
}

func (e *QueryError) Error() string { return e.Msg }

// Query asks the agent to run a whole query command line ("query", ...)
// and returns what the command would print. Failing to reach the agent
// wraps ErrNoAgent; a failed query is a *QueryError.
func (c *Client) Query(ctx context.Context, args []string) ([]byte, error) {
	body, err := json.Marshal(QueryRequest{Args: args})
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://agent"+PathQuery, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	c.label(req)
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("node cache %s: %w: %v", c.Path, ErrNoAgent, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("node cache %s: %w: %v", c.Path, ErrNoAgent, err)
	}
	if resp.StatusCode == http.StatusOK {
		return out, nil
	}
	var e Error
	if json.Unmarshal(out, &e) != nil || e.Exit == 0 {
		return nil, fmt.Errorf("node cache %s: %w: %s", c.Path, ErrNoAgent, resp.Status)
	}
	return nil, &QueryError{Exit: e.Exit, Msg: e.Error, Stale: e.Stale}
}

// label names the registry and root the request wants answers from.
func (c *Client) label(req *http.Request) {
	if c.Registry != "" {
		req.Header.Set(HeaderRegistry, c.Registry)
	}
	if c.Root != "" {
		req.Header.Set(HeaderRoot, c.Root)
	}
}
