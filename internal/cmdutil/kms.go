package cmdutil

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/auth"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/auth/credentials"
	kmssdk "github.com/aliyun/alibaba-cloud-sdk-go/services/kms"

	"github.com/ossctl/ossctl/internal/config"
)

// KMSClient is the official KMS client configured for the resolved endpoint, together with the
// request scheme every call must use (requests made with kmssdk.CreateXRequest carry no scheme
// of their own, so the client's default applies; helpers such as crypto/kms take it explicitly).
type KMSClient struct {
	*kmssdk.Client
	// Scheme is "HTTP" or "HTTPS".
	Scheme string
	// Endpoint describes where requests go, for messages: "http://127.0.0.1:9000" or
	// "kms.cn-hangzhou.aliyuncs.com (region endpoint)".
	Endpoint string
	// Region is the region the client signs for.
	Region string
}

// ErrNoKMSEndpoint is returned when neither a KMS endpoint nor an OSS endpoint is configured.
var ErrNoKMSEndpoint = errors.New("no KMS endpoint configured")

// kmsEndpoint decides where KMS requests go: kms_endpoint when set; otherwise the OSS endpoint
// itself unless it is an aliyuncs.com endpoint (ossctl serve answers KMS on its OSS endpoint),
// in which case the region's public KMS endpoint is used over HTTPS. It returns the host[:port]
// to put in Client.Domain ("" for the SDK's own regional resolution) and the scheme.
func kmsEndpoint(cfg *config.Resolved) (domain, scheme string, err error) {
	ep := cfg.Get(config.KeyKMSEndpoint).Value
	if ep == "" {
		ep = cfg.Endpoint()
		if ep == "" {
			return "", "", WithHint(ErrNoKMSEndpoint,
				"set kms_endpoint with `ossctl config set kms_endpoint URL`, $OSSCTL_KMS_ENDPOINT, or an OSS endpoint")
		}
		if config.RegionFromEndpoint(ep) != "" {
			return "", "HTTPS", nil
		}
	}
	scheme = "HTTP" // a schemeless endpoint means http, as the OSS SDK reads one
	host := ep
	if i := strings.Index(ep, "://"); i >= 0 {
		u, perr := url.Parse(ep)
		if perr != nil {
			return "", "", fmt.Errorf("parsing KMS endpoint %q: %w", ep, perr)
		}
		if (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
			return "", "", fmt.Errorf("invalid KMS endpoint %q: want host[:port] or http(s)://host[:port]", ep)
		}
		scheme = strings.ToUpper(u.Scheme)
		host = u.Host
	}
	host = strings.TrimRight(host, "/")
	if host == "" || strings.ContainsAny(host, "/?#") {
		return "", "", fmt.Errorf("invalid KMS endpoint %q: want host[:port] or http(s)://host[:port]", ep)
	}
	return host, scheme, nil
}

// NewKMSClient builds the official KMS client from a resolved configuration: the same AccessKey
// pair (and STS token) and region as OSS, the endpoint chosen as kmsEndpoint describes, the
// configured timeouts, and the HTTP client that binds requests to o.Context and logs them
// redacted under --debug.
func NewKMSClient(cfg *config.Resolved, o ClientOptions) (*KMSClient, error) {
	if !cfg.HasCredentials() {
		return nil, &AuthError{Err: WithHint(ErrNoCredentials,
			"run `ossctl config`, or set $OSS_ACCESS_KEY_ID and $OSS_ACCESS_KEY_SECRET")}
	}
	domain, scheme, err := kmsEndpoint(cfg)
	if err != nil {
		return nil, err
	}
	region := cfg.Region()
	if region == "" {
		if domain == "" {
			return nil, WithHint(errors.New("no region configured for KMS"), "set --region or $OSS_REGION")
		}
		region = "cn-hangzhou" // a custom endpoint ignores it, but the SDK signs with one
	}
	hc := NewHTTPClient(o.Context, cfg.ConnectTimeout(), cfg.ReadTimeout(), o.Logger, o.Redactor)
	sc := sdk.NewConfig().WithScheme(scheme)
	sc.Transport = hc.Transport
	if o.UserAgent != "" {
		sc.UserAgent = o.UserAgent
	}
	var cred auth.Credential
	if tok := cfg.STSToken(); tok != "" {
		cred = credentials.NewStsTokenCredential(cfg.AccessKeyID(), cfg.AccessKeySecret(), tok)
	} else {
		cred = credentials.NewAccessKeyCredential(cfg.AccessKeyID(), cfg.AccessKeySecret())
	}
	client, err := kmssdk.NewClientWithOptions(region, sc, cred)
	if err != nil {
		return nil, fmt.Errorf("creating KMS client: %w", err)
	}
	client.SetConnectTimeout(cfg.ConnectTimeout())
	client.SetReadTimeout(cfg.ReadTimeout())
	where := fmt.Sprintf("kms.%s.aliyuncs.com (region endpoint)", region)
	if domain != "" {
		client.Domain = domain
		where = strings.ToLower(scheme) + "://" + domain
	}
	return &KMSClient{Client: client, Scheme: scheme, Endpoint: where, Region: region}, nil
}
