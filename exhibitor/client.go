package exhibitor

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// DefaultPath is the REST prefix of a stock Exhibitor; a proxied install
// may serve it elsewhere (Client.PathPrefix).
const DefaultPath = "/exhibitor/v1"

// maxReply bounds how much of a reply is read: a real one is well under
// 1 KB, so anything near this limit is not Exhibitor.
const maxReply = 1 << 20

// Client asks a set of Exhibitor hosts for the ensemble.
type Client struct {
	Hosts      []string // host:port of each Exhibitor
	Scheme     string   // "http" (default) or "https"
	PathPrefix string   // default DefaultPath
	User       *url.Userinfo
	// RequestTimeout bounds each HTTP request, so one host that accepts
	// the connection and then hangs does not use up the whole --timeout.
	RequestTimeout time.Duration
	// Rounds is how many times every host is tried before giving up.
	Rounds int
	HTTP   *http.Client
}

// NewHTTPClient returns an HTTP client that verifies certificates against
// the system roots plus caFile (PEM), when given.
func NewHTTPClient(caFile string) (*http.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("exhibitor CA file: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("exhibitor CA file %s: no PEM certificates in it", caFile)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return &http.Client{Transport: tr}, nil
}

// HostError is one Exhibitor host's failure.
type HostError struct {
	Host string
	Err  error
}

func (e *HostError) Error() string { return e.Host + ": " + e.Err.Error() }
func (e *HostError) Unwrap() error { return e.Err }

// Fetch asks the Exhibitor hosts, in shuffled order, for the ensemble and
// returns the first valid answer (sorted host:port). Each host is tried
// Rounds times; the error lists the last failure of every host.
func (c *Client) Fetch(ctx context.Context) (servers []string, host string, err error) {
	if len(c.Hosts) == 0 {
		return nil, "", errors.New("no Exhibitor hosts")
	}
	rounds := max(c.Rounds, 1)
	last := map[string]error{}
	for round := 0; round < rounds; round++ {
		if round > 0 {
			select {
			case <-ctx.Done():
				return nil, "", c.fetchError(last, ctx.Err())
			case <-time.After(time.Duration(round) * 200 * time.Millisecond):
			}
		}
		for _, h := range shuffled(c.Hosts) {
			if ctx.Err() != nil {
				return nil, "", c.fetchError(last, ctx.Err())
			}
			servers, err := c.fetchOne(ctx, h)
			if err == nil {
				return servers, h, nil
			}
			last[h] = err
		}
	}
	return nil, "", c.fetchError(last, nil)
}

func (c *Client) fetchError(last map[string]error, ctxErr error) error {
	var errs []error
	for _, h := range c.Hosts {
		if err, ok := last[h]; ok {
			errs = append(errs, &HostError{h, err})
		} else if ctxErr != nil {
			errs = append(errs, &HostError{h, fmt.Errorf("not tried: %w", ctxErr)})
		}
	}
	return joinErrors(errs)
}

// URL is the cluster/list URL on host, without credentials.
func (c *Client) URL(host string) string {
	scheme := c.Scheme
	if scheme == "" {
		scheme = "http"
	}
	prefix := c.PathPrefix
	if prefix == "" {
		prefix = DefaultPath
	}
	return scheme + "://" + host + strings.TrimSuffix(prefix, "/") + "/cluster/list"
}

func (c *Client) fetchOne(ctx context.Context, host string) ([]string, error) {
	timeout := c.RequestTimeout
	if timeout <= 0 {
		timeout = 3 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.URL(host), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	if c.User != nil {
		pass, _ := c.User.Password()
		req.SetBasicAuth(c.User.Username(), pass)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, cleanHTTPError(err, timeout)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxReply))
	if err != nil {
		return nil, fmt.Errorf("reading reply: %w", cleanHTTPError(err, timeout))
	}
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		hint := "give user:password in a mode-0600 file named by --exhibitor-auth-file, or in SVCDISCO_EXHIBITOR_AUTH"
		if c.User != nil {
			hint = "check the credentials"
		}
		return nil, fmt.Errorf("HTTP %s (%s)", resp.Status, hint)
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("HTTP %s: %q", resp.Status, abbreviate(string(body)))
	}
	return ParseReply(body)
}

// cleanHTTPError drops net/http's "Get \"url\": " prefix (the host is named
// by the caller) and says "timed out" in words.
func cleanHTTPError(err error, timeout time.Duration) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("no answer within %s: %w", timeout, context.DeadlineExceeded)
	}
	return err
}

func shuffled(hosts []string) []string {
	out := append([]string(nil), hosts...)
	rand.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

// joinErrors is errors.Join on one line, "; "-separated.
func joinErrors(errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	return &listError{errs}
}

type listError struct{ errs []error }

func (e *listError) Error() string {
	parts := make([]string, len(e.errs))
	for i, err := range e.errs {
		parts[i] = err.Error()
	}
	return strings.Join(parts, "; ")
}

func (e *listError) Unwrap() []error { return e.errs }
