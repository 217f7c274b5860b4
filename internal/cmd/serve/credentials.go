package serve

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"strings"

	"github.com/ossctl/ossctl/internal/atomicfile"
)

// credentialsFile is where the root AccessKey pair lives inside the data
// directory, readable by its owner only.
const credentialsFile = "root-credentials.json"

// rootCredentials is the root account of a serve data directory.
type rootCredentials struct {
	AccountID       string `json:"account_id"`
	AccessKeyID     string `json:"access_key_id"`
	AccessKeySecret string `json:"access_key_secret"`
}

// credentialSource tells where the root credentials came from, which
// decides what serve prints at startup.
type credentialSource int

const (
	credsLoaded  credentialSource = iota // read from the data dir
	credsCreated                         // generated on this start
	credsEnv                             // from OSSCTL_ROOT_ACCESS_KEY_*
)

const (
	alnumUpper = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	alnum      = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	digits     = "0123456789"
)

func randomString(alphabet string, n int) (string, error) {
	var b strings.Builder
	size := big.NewInt(int64(len(alphabet)))
	for range n {
		i, err := rand.Int(rand.Reader, size)
		if err != nil {
			return "", err
		}
		b.WriteByte(alphabet[i.Int64()])
	}
	return b.String(), nil
}

// newRootCredentials generates an AccessKey pair shaped like Alibaba
// Cloud's (LTAI + 20 characters, a 30-character secret) and a 16-digit
// account id.
func newRootCredentials() (*rootCredentials, error) {
	id, err := randomString(alnum, 20)
	if err != nil {
		return nil, err
	}
	secret, err := randomString(alnum, 30)
	if err != nil {
		return nil, err
	}
	uid, err := randomString(digits, 15)
	if err != nil {
		return nil, err
	}
	return &rootCredentials{AccountID: "1" + uid, AccessKeyID: "LTAI" + id, AccessKeySecret: secret}, nil
}

// validAccessKeyPart reports whether s can be used as an AccessKey id or
// secret: printable ASCII without spaces or the separators that the OSS
// Authorization header uses.
func validAccessKeyPart(s string) bool {
	if len(s) < 8 || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || c == ':' || c == ',' || c == '/' {
			return false
		}
	}
	return true
}

// loadOrCreateRoot returns the root credentials for dataDir. envID and
// envSecret (from OSSCTL_ROOT_ACCESS_KEY_ID/_SECRET) win when set and are
// then also recorded in the file so the account id stays stable.
func loadOrCreateRoot(dataDir, envID, envSecret string) (*rootCredentials, credentialSource, error) {
	path := filepath.Join(dataDir, credentialsFile)
	if (envID == "") != (envSecret == "") {
		return nil, 0, errors.New("set both OSSCTL_ROOT_ACCESS_KEY_ID and OSSCTL_ROOT_ACCESS_KEY_SECRET, or neither")
	}
	if envID != "" && (!validAccessKeyPart(envID) || !validAccessKeyPart(envSecret)) {
		return nil, 0, errors.New("OSSCTL_ROOT_ACCESS_KEY_ID and OSSCTL_ROOT_ACCESS_KEY_SECRET must be 8-128 printable ASCII characters without spaces, ':', ',' or '/'")
	}

	existing, err := readRoot(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, 0, err
	}
	switch {
	case envID != "":
		c := &rootCredentials{AccessKeyID: envID, AccessKeySecret: envSecret}
		if existing != nil {
			c.AccountID = existing.AccountID
		}
		if c.AccountID == "" {
			fresh, err := newRootCredentials()
			if err != nil {
				return nil, 0, err
			}
			c.AccountID = fresh.AccountID
		}
		if existing == nil || *existing != *c {
			if err := writeRoot(path, c); err != nil {
				return nil, 0, err
			}
		}
		return c, credsEnv, nil
	case existing != nil:
		return existing, credsLoaded, nil
	default:
		c, err := newRootCredentials()
		if err != nil {
			return nil, 0, err
		}
		if err := writeRoot(path, c); err != nil {
			return nil, 0, err
		}
		return c, credsCreated, nil
	}
}

func readRoot(path string) (*rootCredentials, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%s is readable by group or others (mode %#o); run: chmod 600 %s", path, fi.Mode().Perm(), path)
	}
	data, err := os.ReadFile(path) //nolint:gosec // G304: the credentials file in the data directory the user chose
	if err != nil {
		return nil, err
	}
	var c rootCredentials
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	if !validAccessKeyPart(c.AccessKeyID) || !validAccessKeyPart(c.AccessKeySecret) || c.AccountID == "" {
		return nil, fmt.Errorf("reading %s: incomplete credentials; remove the file to generate new ones", path)
	}
	return &c, nil
}

// writeRoot writes c to path atomically with mode 0600: a temporary file in
// the same directory, synced, then renamed over path.
func writeRoot(path string, c *rootCredentials) error {
	data, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding credentials: %w", err)
	}
	return atomicfile.WriteFile(path, append(data, '\n'), 0o600)
}
