// Package csetest starts an in-process `ossctl serve` equivalent with its KMS API for the tests
// of client-side encryption and the kms/key/cse commands: the OSS server and the POP handler
// over one store in a temporary directory, sealed by a server master key in that directory.
package csetest

import (
	"io"
	"log/slog"
	"net/http/httptest"
	"testing"

	"github.com/ossctl/ossctl/internal/auth"
	"github.com/ossctl/ossctl/internal/pop"
	"github.com/ossctl/ossctl/internal/sealing"
	"github.com/ossctl/ossctl/internal/server"
	"github.com/ossctl/ossctl/internal/store"
)

// Fixed test identity.
const (
	AccessKeyID     = "LTAI5tCseTest0001"
	AccessKeySecret = "cse/Test+Secret=0001abcdefghij" //nolint:gosec // a fixed test secret
	AccountID       = "1234567890123456"
	Region          = "cn-hangzhou"
)

// Env is a running server.
type Env struct {
	// Endpoint is "http://127.0.0.1:PORT"; Addr is "127.0.0.1:PORT".
	Endpoint, Addr string
	Store          *store.Store
	HTTP           *httptest.Server
}

// Start starts the server; t.Cleanup stops it.
func Start(t testing.TB) *Env {
	t.Helper()
	dir := t.TempDir()
	st, err := store.Open(dir, store.Options{})
	if err != nil {
		t.Fatalf("csetest: opening store: %v", err)
	}
	cred := &auth.Credential{
		AccessKeyID: AccessKeyID, Secret: AccessKeySecret,
		Principal: auth.Principal{Root: true, AccessKeyID: AccessKeyID, AccountID: AccountID},
	}
	lookup := func(id string) (*auth.Credential, bool) { return cred, id == AccessKeyID }
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	sealer, err := sealing.Open(dir)
	if err != nil {
		_ = st.Close()
		t.Fatalf("csetest: opening master key: %v", err)
	}
	kms, err := pop.New(pop.Config{Store: st, Sealer: sealer, Lookup: lookup, AccountID: AccountID, Region: Region, Logger: logger})
	if err != nil {
		_ = st.Close()
		t.Fatalf("csetest: creating KMS: %v", err)
	}
	srv, err := server.New(server.Config{Store: st, Lookup: lookup, AccountID: AccountID, Region: Region, Logger: logger, POP: kms})
	if err != nil {
		_ = st.Close()
		t.Fatalf("csetest: creating server: %v", err)
	}
	hs := httptest.NewUnstartedServer(srv)
	hs.Config = server.NewHTTPServer(srv)
	hs.Config.ErrorLog = slog.NewLogLogger(logger.Handler(), slog.LevelWarn)
	hs.Start()
	t.Cleanup(func() {
		hs.Close()
		_ = st.Close()
	})
	return &Env{Endpoint: hs.URL, Addr: hs.Listener.Addr().String(), Store: st, HTTP: hs}
}
