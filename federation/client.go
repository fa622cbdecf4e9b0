package federation

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/warbler-im/warbler/internal/netguard"
	"github.com/warbler-im/warbler/internal/version"
)

// ClientConfig is what NewClient needs.
type ClientConfig struct {
	// ServerName, KeyID and PrivateKey sign requests as this server.
	ServerName string
	KeyID      string
	PrivateKey ed25519.PrivateKey
	// TrustedCAFile, InsecureSkipVerify and AllowedNetworks are the
	// federation.* settings of the same names.
	TrustedCAFile      string
	InsecureSkipVerify bool
	AllowedNetworks    []string
	// DNS resolves SRV records and host names; nil uses the system's.
	DNS DNS
	// DialAddr connects to a checked "ip:port"; nil uses the network.
	// Tests route fake public addresses to local listeners with it.
	DialAddr func(ctx context.Context, network, addr string) (net.Conn, error)
	// RequestTimeout bounds a request that has no earlier deadline;
	// 0 means DefaultRequestTimeout.
	RequestTimeout time.Duration
	// MaxResponseBytes bounds response bodies; 0 means
	// DefaultMaxResponseBytes.
	MaxResponseBytes int64
	// Now is the clock of the discovery caches; nil means time.Now.
	Now func() time.Time
}

const (
	DefaultRequestTimeout = time.Minute
	// DefaultMaxResponseBytes leaves room for the state of large rooms.
	DefaultMaxResponseBytes = 64 << 20
)

// Client sends requests to other homeservers: it resolves their names,
// connects only to permitted addresses over verified TLS, reuses
// connections and signs requests with this server's key.
type Client struct {
	serverName  string
	keyID       string
	privateKey  ed25519.PrivateKey
	resolver    *Resolver
	http        *http.Client
	timeout     time.Duration
	maxResponse int64
	userAgent   string
}

// NewClient builds a client from cfg.
func NewClient(cfg ClientConfig) (*Client, error) {
	guard, err := netguard.New(cfg.AllowedNetworks)
	if err != nil {
		return nil, fmt.Errorf("federation.allowed_networks: %w", err)
	}
	tlsCfg, err := tlsConfig(cfg.TrustedCAFile, cfg.InsecureSkipVerify)
	if err != nil {
		return nil, err
	}
	dns := cfg.DNS
	if dns == nil {
		dns = net.DefaultResolver
	}
	dialer := &netguard.Dialer{Guard: guard, LookupIPAddr: dns.LookupIPAddr, DialAddr: cfg.DialAddr}
	c := &Client{
		serverName:  cfg.ServerName,
		keyID:       cfg.KeyID,
		privateKey:  cfg.PrivateKey,
		resolver:    NewResolver(dns, newWellKnownClient(dialer, tlsCfg), cfg.Now),
		http:        &http.Client{Transport: newRouteTransport(&routeDialer{dialer: dialer, tls: tlsCfg}), CheckRedirect: noRedirects},
		timeout:     orDefault(cfg.RequestTimeout, DefaultRequestTimeout),
		maxResponse: orDefault(cfg.MaxResponseBytes, DefaultMaxResponseBytes),
		userAgent:   "Warbler/" + version.String(),
	}
	return c, nil
}

func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// noRedirects hands a federation API redirect back to the caller: the
// spec defines none, and following one would send a signed request
// somewhere it was not signed for.
func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// Response is a remote server's answer, its body read in full (bounded).
type Response struct {
	Destination string // the server name the request was for
	Status      int
	Header      http.Header
	Body        []byte
}

// Err returns a *RemoteError unless the status is 2xx.
func (r *Response) Err() error {
	if r.Status >= 200 && r.Status < 300 {
		return nil
	}
	e := &RemoteError{Destination: r.Destination, Status: r.Status}
	var body struct {
		ErrCode string `json:"errcode"`
		Error   string `json:"error"`
	}
	if json.Unmarshal(r.Body, &body) == nil {
		e.ErrCode, e.Message = body.ErrCode, body.Error
	}
	return e
}

// RemoteError is a non-2xx answer of another server.
type RemoteError struct {
	Destination string
	Status      int
	ErrCode     string // "" if the body was not a Matrix error
	Message     string
}

func (e *RemoteError) Error() string {
	return fmt.Sprintf("%s answered %d %s: %s", e.Destination, e.Status, e.ErrCode, e.Message)
}

// ErrResponseTooLarge reports a response body over the client's limit.
var ErrResponseTooLarge = errors.New("federation: response body too large")

// Do sends a request signed with X-Matrix to destination (a server name).
// path is the request target from "/_matrix/…", with any query already
// encoded. body is nil for none, []byte or json.RawMessage sent as is, or
// a value encoded as JSON. Transport failures are errors; an HTTP error
// status is not (see Response.Err).
func (c *Client) Do(ctx context.Context, destination, method, path string, body any) (*Response, error) {
	return c.do(ctx, destination, method, path, body, true)
}

// DoUnauthenticated is Do without the signature, for the endpoints that
// take none (the key endpoints, the version).
func (c *Client) DoUnauthenticated(ctx context.Context, destination, method, path string, body any) (*Response, error) {
	return c.do(ctx, destination, method, path, body, false)
}

func (c *Client) do(ctx context.Context, destination, method, path string, body any, sign bool) (*Response, error) {
	content, err := encodeBody(body)
	if err != nil {
		return nil, err
	}
	target, err := url.Parse(path)
	if err != nil || !strings.HasPrefix(path, "/") {
		return nil, fmt.Errorf("federation: bad request path %q", path)
	}
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	resolved, err := c.resolver.Resolve(ctx, destination)
	if err != nil {
		return nil, err
	}
	var auth string
	if sign {
		if auth, err = c.authorization(method, target.RequestURI(), destination, content); err != nil {
			return nil, err
		}
	}
	return c.sendToAny(ctx, resolved, method, target, content, auth)
}

func (c *Client) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, has := ctx.Deadline(); has {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, c.timeout)
}

func (c *Client) authorization(method, uri, destination string, content []byte) (string, error) {
	auth, err := SignRequest(method, uri, c.serverName, destination, content, c.keyID, c.privateKey)
	if err != nil {
		return "", err
	}
	return auth.String(), nil
}

// sendToAny tries the targets in order, moving on only when a connection
// could not be made, so a request is never delivered twice.
func (c *Client) sendToAny(ctx context.Context, resolved Resolved, method string, target *url.URL, content []byte, auth string) (*Response, error) {
	var errs []error
	for _, t := range resolved.Targets {
		rt := route{certName: resolved.CertName, dialHost: t.Host, port: t.Port}
		resp, err := c.send(ctx, rt, resolved.HostHeader, method, target, content, auth)
		if err == nil {
			resp.Destination = resolved.ServerName
			return resp, nil
		}
		errs = append(errs, fmt.Errorf("%s via %s: %w", resolved.ServerName, t, err))
		var de *dialError
		if !errors.As(err, &de) || ctx.Err() != nil {
			break
		}
	}
	return nil, errors.Join(errs...)
}

func (c *Client) send(ctx context.Context, rt route, hostHeader, method string, target *url.URL, content []byte, auth string) (*Response, error) {
	u := url.URL{Scheme: "https", Host: rt.urlHost(), Path: target.Path, RawPath: target.RawPath, RawQuery: target.RawQuery}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), bytes.NewReader(content))
	if err != nil {
		return nil, err
	}
	req.Host = hostHeader
	req.Header.Set("User-Agent", c.userAgent)
	if content != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, c.maxResponse+1))
	if err != nil {
		return nil, err
	}
	if int64(len(raw)) > c.maxResponse {
		return nil, ErrResponseTooLarge
	}
	if err := ctx.Err(); err != nil {
		// The deadline passed while the answer was in flight; net/http can
		// hand back a response that raced the cancellation.
		return nil, err
	}
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: raw}, nil
}

// encodeBody turns Do's body argument into JSON bytes, nil for none.
func encodeBody(body any) ([]byte, error) {
	switch b := body.(type) {
	case nil:
		return nil, nil
	case []byte:
		return b, nil
	case json.RawMessage:
		return b, nil
	default:
		return json.Marshal(b)
	}
}
