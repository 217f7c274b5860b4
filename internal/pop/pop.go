// Package pop serves the Alibaba Cloud RPC-style ("POP") APIs that `ossctl
// serve` emulates on its OSS endpoint: KMS (Version 2016-01-20) today, RAM
// and STS later. Requests are recognised by IsRPC, authenticated with the
// POP HMAC-SHA1 signature (auth.RPCVerifier), authorized by one function
// (authorize) and answered in JSON, or XML when Format=XML, with the field
// names of the official alibaba-cloud-sdk-go.
//
// KMS state (keys, versions, aliases, import tokens) lives in the store's
// key-value namespace "kms". Key material is always sealed by the server
// master key (Config.Sealer) before it is written.
package pop

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ossctl/ossctl/internal/auth"
	"github.com/ossctl/ossctl/internal/store"
)

// Sealer seals secrets under the server master key. *sealing.Keyring
// implements it.
type Sealer interface {
	Seal(plaintext, aad []byte) ([]byte, error)
	Open(blob, aad []byte) ([]byte, error)
}

// Config configures a Handler.
type Config struct {
	Store     *store.Store // required: persistence (namespace "kms")
	Sealer    Sealer       // required: seals key material at rest
	Lookup    auth.Lookup  // AccessKeyId → credential; nil refuses everyone
	AccountID string       // required: the account uid in ARNs and Creator
	Region    string       // region in ARNs; default "cn-hangzhou"
	// Now is the server clock: key creation and deletion dates, automatic
	// rotation, import expiry, and (unless AuthNow is set) the signature
	// Timestamp window. nil = time.Now.
	Now func() time.Time
	// AuthNow, if set, replaces Now for the signature Timestamp check
	// only, so a server whose key clock is moved (tests, demos) still
	// accepts requests signed with the real time.
	AuthNow func() time.Time
	Logger  *slog.Logger
	// NonceCapacity bounds the SignatureNonce replay memory
	// (0 = auth.DefaultNonceCapacity).
	NonceCapacity int
	// Rand is the randomness source for key material, nonces and ids
	// (nil = crypto/rand).
	Rand io.Reader
}

// Handler serves POP RPC requests. It is safe for concurrent use.
type Handler struct {
	cfg      Config
	kv       store.KV
	verifier *auth.RPCVerifier
	now      func() time.Time
	authNow  func() time.Time
	log      *slog.Logger
	rand     io.Reader
	kms      map[string]action
}

// action runs one API action and returns its response body (a struct with
// a RequestId field) or an error (*Error for API errors).
type action func(rq *request) (any, error)

// KMSVersion is the KMS API version this package serves.
const KMSVersion = "2016-01-20"

// DefaultRegion is Config.Region's default.
const DefaultRegion = "cn-hangzhou"

// maxFormBytes bounds a form-encoded request body (the POP gateway's limit
// is of this order; KMS payloads are a few KB).
const maxFormBytes = 1 << 20

// New returns a Handler for cfg.
func New(cfg Config) (*Handler, error) {
	if cfg.Store == nil {
		return nil, errors.New("pop: Config.Store is required")
	}
	if cfg.Sealer == nil {
		return nil, errors.New("pop: Config.Sealer is required")
	}
	if cfg.AccountID == "" {
		return nil, errors.New("pop: Config.AccountID is required")
	}
	if cfg.Region == "" {
		cfg.Region = DefaultRegion
	}
	h := &Handler{
		cfg:      cfg,
		kv:       cfg.Store.KV(kmsNamespace),
		verifier: auth.NewRPCVerifier(cfg.NonceCapacity),
		now:      cfg.Now,
		log:      cfg.Logger,
		rand:     cfg.Rand,
	}
	if h.now == nil {
		h.now = time.Now
	}
	h.authNow = cfg.AuthNow
	if h.authNow == nil {
		h.authNow = h.now
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.rand == nil {
		h.rand = rand.Reader
	}
	h.kms = h.kmsActions()
	return h, nil
}

// IsRPC reports whether r is a POP RPC request: GET or POST on the service
// root ("/", no bucket in the path) whose query or x-www-form-urlencoded
// body carries Action and Version plus one of SignatureMethod, AccessKeyId
// or Signature. For a form POST it parses the (bounded) body into
// r.PostForm, where ServeHTTP finds it again.
func IsRPC(r *http.Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		return false
	}
	if r.URL == nil || (r.URL.Path != "" && r.URL.Path != "/") {
		return false
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return false
	}
	if hasRPCMarkers(q) {
		return true
	}
	if r.Method != http.MethodPost || !isForm(r) {
		return false
	}
	form, err := postForm(r)
	if err != nil {
		return false
	}
	return hasRPCMarkers(merge(q, form))
}

func hasRPCMarkers(v url.Values) bool {
	if v.Get("Action") == "" || v.Get("Version") == "" {
		return false
	}
	return v.Has("SignatureMethod") || v.Has("AccessKeyId") || v.Has("Signature")
}

func isForm(r *http.Request) bool {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return false
	}
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && mt == "application/x-www-form-urlencoded"
}

// postForm returns r's parsed form body, parsing it (bounded) if nobody
// has yet.
func postForm(r *http.Request) (url.Values, error) {
	if r.PostForm != nil {
		return r.PostForm, nil
	}
	if r.Body == nil {
		r.PostForm = url.Values{}
		return r.PostForm, nil
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxFormBytes+1))
	// Put back what was read, so a request that turns out not to be ours
	// reaches the next handler whole.
	r.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(body), r.Body), r.Body}
	if err != nil {
		return nil, fmt.Errorf("reading form body: %w", err)
	}
	if len(body) > maxFormBytes {
		return nil, errBodyTooLarge
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, fmt.Errorf("parsing form body: %w", err)
	}
	r.PostForm = form
	return form, nil
}

var errBodyTooLarge = errors.New("form body too large")

// merge returns query parameters overlaid with form parameters (a form
// value replaces a query value of the same name, as in the POP SDK, whose
// string to sign is built from one map filled from both).
func merge(query, form url.Values) url.Values {
	out := make(url.Values, len(query)+len(form))
	for k, v := range query {
		out[k] = v
	}
	for k, v := range form {
		out[k] = v
	}
	return out
}

// request is one API call in flight.
type request struct {
	h         *Handler
	params    url.Values
	principal *auth.Principal
	action    string
	now       time.Time
	requestID string
}

// str returns a parameter's first value.
func (rq *request) str(name string) string { return rq.params.Get(name) }

// ServeHTTP answers one POP RPC request.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rq := &request{h: h, now: h.now(), requestID: newRequestID(h.rand)}
	format := "JSON"
	result, err := h.handle(rq, r, &format)
	if err != nil {
		h.writeError(w, r, rq, format, err)
		return
	}
	if mutating[rq.action] {
		h.log.Info("pop: "+rq.action, "request_id", rq.requestID, "access_key_id", rq.principal.AccessKeyID,
			"key_id", rq.params.Get("KeyId"), "alias", rq.params.Get("AliasName"))
	}
	h.write(w, rq, format, http.StatusOK, rq.action+"Response", result)
}

// mutating names the actions that change state; they are logged at Info
// level as an audit trail (never with plaintexts or key material).
var mutating = map[string]bool{
	"CreateKey": true, "EnableKey": true, "DisableKey": true, "ScheduleKeyDeletion": true,
	"CancelKeyDeletion": true, "CreateAlias": true, "UpdateAlias": true, "DeleteAlias": true,
	"CreateKeyVersion": true, "ImportKeyMaterial": true, "GetParametersForImport": true,
}

func (h *Handler) handle(rq *request, r *http.Request, format *string) (any, error) {
	query, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, errInvalidParameter("The query string is not properly encoded.")
	}
	if f := query.Get("Format"); strings.EqualFold(f, "XML") {
		*format = "XML"
	}
	var form url.Values
	if r.Method == http.MethodPost && isForm(r) {
		form, err = postForm(r)
		if err != nil {
			if errors.Is(err, errBodyTooLarge) {
				return nil, errInvalidParameter(fmt.Sprintf("The request body exceeds %d bytes.", maxFormBytes))
			}
			return nil, errInvalidParameter("The form body is not properly encoded.")
		}
	}
	rq.params = merge(query, form)
	if strings.EqualFold(rq.params.Get("Format"), "XML") {
		*format = "XML"
	}
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		return nil, &Error{Status: http.StatusMethodNotAllowed, Code: "UnsupportedHTTPMethod",
			Message: "Specified HTTP method " + r.Method + " is not supported; use GET or POST."}
	}
	p, err := h.verifier.Verify(rq.params, r.Method, h.authNow(), h.cfg.Lookup)
	if err != nil {
		return nil, fromAuthError(err)
	}
	rq.principal = p
	rq.action = rq.params.Get("Action")
	if rq.action == "" {
		rq.action = r.Header.Get("x-acs-action")
	}
	version := rq.params.Get("Version")
	if version == "" {
		version = r.Header.Get("x-acs-version")
	}
	if rq.action == "" {
		return nil, errMissing("Action")
	}
	if version != KMSVersion {
		return nil, &Error{Status: http.StatusBadRequest, Code: "InvalidVersion",
			Message: "Specified parameter Version " + quote(version) + " is not valid; this endpoint serves KMS " + KMSVersion + "."}
	}
	fn, ok := h.kms[rq.action]
	if !ok {
		return nil, &Error{Status: http.StatusNotFound, Code: "InvalidAction.NotFound",
			Message: "Specified api " + quote(rq.action) + " is not found, please check your url and method."}
	}
	return fn(rq)
}

// write renders a success or error body in the requested format.
func (h *Handler) write(w http.ResponseWriter, rq *request, format string, status int, root string, body any) {
	var data []byte
	var err error
	if format == "XML" {
		var buf bytes.Buffer
		buf.WriteString(xml.Header)
		enc := xml.NewEncoder(&buf)
		err = enc.EncodeElement(body, xml.StartElement{Name: xml.Name{Local: root}})
		data = buf.Bytes()
		w.Header().Set("Content-Type", "text/xml;charset=utf-8")
	} else {
		data, err = json.Marshal(body)
		w.Header().Set("Content-Type", "application/json;charset=utf-8")
	}
	if err != nil {
		h.log.Error("pop: encoding response", "action", rq.action, "request_id", rq.requestID, "err", err)
		status = http.StatusInternalServerError
		data = []byte(`{"RequestId":"` + rq.requestID + `","Code":"InternalFailure","Message":"Internal Failure"}`)
		w.Header().Set("Content-Type", "application/json;charset=utf-8")
	}
	w.Header().Set("x-acs-request-id", rq.requestID)
	w.Header().Set("Content-Length", fmt.Sprint(len(data)))
	w.WriteHeader(status)
	_, _ = w.Write(data)
}

// errorBody is the POP error document. The POP SDK reads RequestId,
// HostId, Code, Message and Recommend as strings.
type errorBody struct {
	RequestID  string `json:"RequestId" xml:"RequestId"`
	HostID     string `json:"HostId" xml:"HostId"`
	Code       string `json:"Code" xml:"Code"`
	Message    string `json:"Message" xml:"Message"`
	Recommend  string `json:"Recommend" xml:"Recommend"`
	HTTPStatus int    `json:"HttpStatus" xml:"HttpStatus"`
}

func (h *Handler) writeError(w http.ResponseWriter, r *http.Request, rq *request, format string, err error) {
	var e *Error
	if !errors.As(err, &e) {
		h.log.Error("pop: internal error", "action", rq.action, "request_id", rq.requestID, "err", err)
		e = &Error{Status: http.StatusInternalServerError, Code: "InternalFailure",
			Message: "The request processing has failed due to some unknown error."}
	} else {
		h.log.Debug("pop: request refused", "action", rq.action, "request_id", rq.requestID, "code", e.Code, "status", e.Status)
	}
	body := errorBody{
		RequestID:  rq.requestID,
		HostID:     r.Host,
		Code:       e.Code,
		Message:    e.Message,
		Recommend:  "https://api.aliyun.com/troubleshoot?q=" + url.QueryEscape(e.Code) + "&product=Kms",
		HTTPStatus: e.Status,
	}
	h.write(w, rq, format, e.Status, "Error", body)
}

// newRequestID returns an id shaped like the POP gateway's
// (8-4-4-4-12 uppercase hex).
func newRequestID(rnd io.Reader) string {
	var b [16]byte
	if _, err := io.ReadFull(rnd, b[:]); err != nil {
		// The id only correlates logs; fall back to the clock.
		sum := sha256.Sum256([]byte(time.Now().String()))
		copy(b[:], sum[:])
	}
	s := strings.ToUpper(hex.EncodeToString(b[:]))
	return s[0:8] + "-" + s[8:12] + "-" + s[12:16] + "-" + s[16:20] + "-" + s[20:32]
}

// quote quotes s for an error message, truncating long input.
func quote(s string) string {
	const limit = 128
	if len(s) > limit {
		s = s[:limit] + "..."
	}
	return fmt.Sprintf("%q", s)
}
