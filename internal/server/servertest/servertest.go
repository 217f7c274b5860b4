// Package servertest starts an in-process `ossctl serve` equivalent for
// tests: the OSS protocol server over a store in a temporary directory,
// served by httptest on 127.0.0.1, with a fixed root AccessKey pair.
//
// The server has the built-in KMS (the POP RPC API, and in process for
// SSE-KMS) and a server master key (sealing keyring) in the temp directory,
// so server-side encryption and KMS clients work against it.
//
// It deliberately imports no SDK: tests bring their own clients.
package servertest

import (
	"io"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/ossctl/ossctl/internal/auth"
	"github.com/ossctl/ossctl/internal/pop"
	"github.com/ossctl/ossctl/internal/sealing"
	"github.com/ossctl/ossctl/internal/server"
	"github.com/ossctl/ossctl/internal/store"
)

// Fixed test identity. The secret contains '/', '+' and '=' on purpose.
const (
	AccessKeyID     = "LTAI5tServerTest0001"
	AccessKeySecret = "test/Secret+Key=0001abcdefghij"
	AccountID       = "1234567890123456"
	Region          = "cn-hangzhou"
)

// Env is a running test server.
type Env struct {
	// Endpoint is "http://127.0.0.1:PORT": SDKs use path style against it.
	Endpoint string
	// Addr is "127.0.0.1:PORT".
	Addr            string
	AccessKeyID     string
	AccessKeySecret string
	AccountID       string
	Region          string
	Store           *store.Store
	Server          *server.Server
	HTTP            *httptest.Server
	// KMS is the built-in KMS; MasterKey the server master key.
	KMS       *pop.Handler
	MasterKey *sealing.Keyring
	// DataDir holds the store (DataDir/store) and the master key file.
	DataDir string

	closed bool
}

// Options customise Start.
type Options struct {
	// Domains are extra virtual-host base domains ("localhost" is implied).
	Domains []string
	// Now is the server clock (nil = time.Now).
	Now func() time.Time
	// Logger receives the access log (nil = discard).
	Logger *slog.Logger
	// Credentials are extra AccessKeys besides the root key.
	Credentials []auth.Credential
	// StallTimeout is server.Config.StallTimeout (0 = the default).
	StallTimeout time.Duration
	// ReadHeaderTimeout overrides the production header timeout of
	// server.NewHTTPServer when positive.
	ReadHeaderTimeout time.Duration
	// DataDir, when set, is used instead of a fresh t.TempDir() (for
	// example a small tmpfs to test a full disk).
	DataDir string
}

// Start starts a server with default options; it is closed by t.Cleanup.
func Start(t testing.TB) *Env { return StartWith(t, Options{}) }

// StartWith starts a server with opts; it is closed by t.Cleanup.
func StartWith(t testing.TB, opts Options) *Env {
	t.Helper()
	dataDir := opts.DataDir
	if dataDir == "" {
		dataDir = t.TempDir()
	}
	st, err := store.Open(filepath.Join(dataDir, "store"), store.Options{Now: opts.Now})
	if err != nil {
		t.Fatalf("servertest: opening store: %v", err)
	}
	keyring, err := sealing.Open(dataDir)
	if err != nil {
		_ = st.Close()
		t.Fatalf("servertest: opening master key: %v", err)
	}
	creds := map[string]*auth.Credential{
		AccessKeyID: {
			AccessKeyID: AccessKeyID,
			Secret:      AccessKeySecret,
			Principal:   auth.Principal{Root: true, AccessKeyID: AccessKeyID, AccountID: AccountID},
		},
	}
	for i := range opts.Credentials {
		c := opts.Credentials[i]
		creds[c.AccessKeyID] = &c
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	lookup := func(ak string) (*auth.Credential, bool) { c, ok := creds[ak]; return c, ok }
	kms, err := pop.New(pop.Config{
		Store: st, Sealer: keyring, Lookup: lookup, AccountID: AccountID, Region: Region,
		Now: opts.Now, AuthNow: time.Now, Logger: logger,
	})
	if err != nil {
		_ = st.Close()
		t.Fatalf("servertest: creating KMS: %v", err)
	}
	srv, err := server.New(server.Config{
		Store:        st,
		Lookup:       lookup,
		POP:          kms,
		MasterKey:    keyring,
		KMS:          kms,
		AccountID:    AccountID,
		Region:       Region,
		Domains:      opts.Domains,
		Now:          opts.Now,
		Logger:       logger,
		StallTimeout: opts.StallTimeout,
	})
	if err != nil {
		_ = st.Close()
		t.Fatalf("servertest: creating server: %v", err)
	}
	// The same http.Server settings as `ossctl serve` (header limits and
	// timeouts), so tests see what clients of the real server see.
	hs := httptest.NewUnstartedServer(srv)
	hs.Config = server.NewHTTPServer(srv)
	if opts.ReadHeaderTimeout > 0 {
		hs.Config.ReadHeaderTimeout = opts.ReadHeaderTimeout
	}
	hs.Config.ErrorLog = slog.NewLogLogger(logger.Handler(), slog.LevelWarn)
	hs.Start()
	env := &Env{
		Endpoint:        hs.URL,
		Addr:            hs.Listener.Addr().String(),
		AccessKeyID:     AccessKeyID,
		AccessKeySecret: AccessKeySecret,
		AccountID:       AccountID,
		Region:          Region,
		Store:           st,
		Server:          srv,
		HTTP:            hs,
		KMS:             kms,
		MasterKey:       keyring,
		DataDir:         dataDir,
	}
	t.Cleanup(env.Close)
	return env
}

// Close stops the HTTP server and closes the store. It is idempotent.
func (e *Env) Close() {
	if e.closed {
		return
	}
	e.closed = true
	e.HTTP.Close()
	_ = e.Store.Close()
}
