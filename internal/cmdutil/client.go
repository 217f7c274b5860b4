package cmdutil

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"

	"github.com/ossctl/ossctl/internal/config"
)

// ClientOptions tune the clients NewOSSClient builds.
type ClientOptions struct {
	// UserAgent is sent with every request, e.g. "ossctl/1.2.3".
	UserAgent string
	// Logger receives one debug record per request and response (secrets redacted).
	Logger *slog.Logger
	// Redactor scrubs known secret values from logged text.
	Redactor *Redactor
	// Context, when set, bounds every request: canceling it (SIGINT) aborts requests in flight,
	// including SDK calls that take no context of their own (ListBuckets, CreateBucket, ...).
	Context context.Context
	// NoSDKCRC turns off the SDK's own CRC-64 computation. The transfer engine
	// computes and verifies CRC-64 itself (internal/crc64x, several times faster
	// than the SDK's hash/crc64), so its client skips the duplicate work.
	NoSDKCRC bool
}

// NewOSSClient builds the official SDK client from a resolved configuration: endpoint (a
// schemeless endpoint means http, as in the SDK), AccessKey pair and STS token, forced path style,
// V4 signing with the region, timeouts, User-Agent, and an HTTP client that logs redacted
// requests at debug level.
func NewOSSClient(cfg *config.Resolved, o ClientOptions) (*oss.Client, error) {
	if cfg.Endpoint() == "" {
		return nil, WithHint(ErrNoEndpoint,
			"run `ossctl config`, set $OSS_ENDPOINT, or pass --endpoint")
	}
	if !cfg.HasCredentials() {
		return nil, &AuthError{Err: WithHint(ErrNoCredentials,
			"run `ossctl config`, or set $OSS_ACCESS_KEY_ID and $OSS_ACCESS_KEY_SECRET")}
	}
	opts := []oss.ClientOption{
		oss.HTTPClient(NewHTTPClient(o.Context, cfg.ConnectTimeout(), cfg.ReadTimeout(), o.Logger, o.Redactor)),
	}
	if o.NoSDKCRC {
		opts = append(opts, oss.EnableCRC(false))
	}
	if o.UserAgent != "" {
		opts = append(opts, oss.UserAgent(o.UserAgent))
	}
	if tok := cfg.STSToken(); tok != "" {
		opts = append(opts, oss.SecurityToken(tok))
	}
	if cfg.PathStyle() {
		opts = append(opts, oss.ForcePathStyle(true))
	}
	if cfg.SignVersion() == config.SignV4 {
		opts = append(opts, oss.AuthVersion(oss.AuthV4), oss.Region(cfg.Region()))
	}
	c, err := oss.New(cfg.Endpoint(), cfg.AccessKeyID(), cfg.AccessKeySecret(), opts...)
	if err != nil {
		return nil, WithHint(&wrapped{msg: "creating OSS client for endpoint " + cfg.Endpoint(), err: err},
			"check the endpoint: ossctl config show")
	}
	return c, nil
}

type wrapped struct {
	msg string
	err error
}

func (w *wrapped) Error() string { return w.msg + ": " + w.err.Error() }
func (w *wrapped) Unwrap() error { return w.err }

// NewHTTPClient returns the HTTP client used for OSS requests. It mirrors the SDK's own transport
// (connect timeout, a per-read/write idle timeout, response-header timeout, HTTP/1.1, keep-alive
// pools), honours HTTP(S)_PROXY, and logs each exchange at debug level with secrets redacted.
//
// Every request is also bound to base (when non-nil), so canceling base aborts it.
func NewHTTPClient(base context.Context, connect, readWrite time.Duration, logger *slog.Logger, r *Redactor) *http.Client {
	dialer := &net.Dialer{Timeout: connect, KeepAlive: 30 * time.Second}
	transport := &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := dialer.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			if readWrite <= 0 {
				return c, nil
			}
			return &deadlineConn{Conn: c, timeout: readWrite}, nil
		},
		TLSHandshakeTimeout:   connect,
		ResponseHeaderTimeout: readWrite,
		IdleConnTimeout:       50 * time.Second,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   100,
	}
	var rt http.RoundTripper = transport
	if logger != nil && logger.Enabled(context.Background(), slog.LevelDebug) {
		rt = &debugTransport{next: rt, log: logger, redact: r}
	}
	if base != nil {
		rt = &contextTransport{next: rt, base: base}
	}
	return &http.Client{Transport: rt}
}

// contextTransport binds each request to a base context in addition to its own.
type contextTransport struct {
	next http.RoundTripper
	base context.Context
}

func (t *contextTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := t.base.Err(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(req.Context())
	stop := context.AfterFunc(t.base, cancel)
	resp, err := t.next.RoundTrip(req.WithContext(ctx))
	if err != nil {
		stop()
		cancel()
		return nil, err
	}
	resp.Body = &cancelOnClose{ReadCloser: resp.Body, done: func() { stop(); cancel() }}
	return resp, nil
}

// cancelOnClose releases a request's context when its body is closed.
type cancelOnClose struct {
	io.ReadCloser
	once sync.Once
	done func()
}

func (b *cancelOnClose) Close() error {
	err := b.ReadCloser.Close()
	b.once.Do(b.done)
	return err
}

// deadlineConn extends the connection's deadline before every read and write, so a stalled peer
// fails after the timeout while a slow but moving transfer goes on.
type deadlineConn struct {
	net.Conn
	timeout time.Duration
}

func (c *deadlineConn) Read(b []byte) (int, error) {
	_ = c.SetReadDeadline(time.Now().Add(c.timeout))
	return c.Conn.Read(b)
}

func (c *deadlineConn) Write(b []byte) (int, error) {
	_ = c.SetWriteDeadline(time.Now().Add(c.timeout))
	return c.Conn.Write(b)
}

type debugTransport struct {
	next   http.RoundTripper
	log    *slog.Logger
	redact *Redactor
}

func (t *debugTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	start := time.Now()
	attrs := []any{
		slog.String("method", req.Method),
		slog.String("url", RedactURL(req.URL)),
	}
	for _, name := range sortedHeaderNames(req.Header) {
		attrs = append(attrs, slog.String("req."+name, RedactHeader(name, req.Header.Get(name))))
	}
	t.log.Debug("http request", attrs...)
	resp, err := t.next.RoundTrip(req)
	if err != nil {
		t.log.Debug("http error", slog.String("method", req.Method), slog.String("url", RedactURL(req.URL)),
			slog.Duration("elapsed", time.Since(start)), slog.String("error", err.Error()))
		return nil, err
	}
	rattrs := []any{
		slog.String("method", req.Method),
		slog.String("url", RedactURL(req.URL)),
		slog.Int("status", resp.StatusCode),
		slog.Duration("elapsed", time.Since(start)),
	}
	for _, name := range sortedHeaderNames(resp.Header) {
		rattrs = append(rattrs, slog.String("resp."+name, RedactHeader(name, resp.Header.Get(name))))
	}
	t.log.Debug("http response", rattrs...)
	return resp, nil
}
