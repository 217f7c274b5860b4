package server

import (
	"bytes"
	"crypto/md5" //nolint:gosec // G501: Content-MD5 and ETags are MD5 by protocol, not for security
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/ossctl/ossctl/internal/store"
)

// Size limits.
const (
	maxSinglePut   = 5 << 30 // PutObject, AppendObject block and UploadPart
	maxXMLBody     = 1 << 20 // configuration documents
	maxDeleteBody  = 8 << 20 // DeleteMultipleObjects: 1000 keys of up to 1023 escaped bytes
	maxCompleteXML = 4 << 20 // CompleteMultipartUpload with up to 10000 parts
)

// errBodyIncomplete marks a request body that ended (or broke) before
// Content-Length bytes arrived.
var errBodyIncomplete = errors.New("request body incomplete")

// bodyReadError classifies a failed read of the request body: a stall
// (the client sent nothing for the stall timeout) or a body that ended
// early or broke.
func bodyReadError(err error) error {
	var se *stallError
	if errors.As(err, &se) {
		return errRequestTimeout()
	}
	return fmt.Errorf("%w: %w", errBodyIncomplete, err)
}

// trackingReader remembers whether an error came from the client side.
type trackingReader struct {
	r   io.Reader
	err error
}

func (t *trackingReader) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if err != nil && err != io.EOF {
		t.err = err
	}
	return n, err
}

// contentMD5 returns the decoded Content-MD5 header (nil when absent).
func contentMD5(h http.Header) ([]byte, error) {
	v := h.Get("Content-MD5")
	if v == "" {
		return nil, nil
	}
	sum, err := base64.StdEncoding.DecodeString(v)
	if err != nil || len(sum) != md5.Size {
		return nil, newError(http.StatusBadRequest, "InvalidDigest", "The Content-MD5 you specified is not valid.").
			with("Content-MD5", v)
	}
	return sum, nil
}

func isChunked(r *http.Request) bool {
	return len(r.TransferEncoding) > 0 && strings.EqualFold(r.TransferEncoding[0], "chunked")
}

// receiveBody stages the request body in a new blob, enforcing
// Content-Length presence, the size limit and Content-MD5. With key the
// body is encrypted on its way in (a sealed blob; plaintext never reaches
// the disk). On any error the blob is discarded and nothing remains.
func (rc *reqCtx) receiveBody(maxSize int64, key *sseKey) (*store.BlobWriter, error) {
	r := rc.r
	chunked := isChunked(r)
	if !chunked && r.Header.Get("Content-Length") == "" {
		return nil, newError(http.StatusLengthRequired, "MissingContentLength", "You must provide the Content-Length HTTP header.")
	}
	if r.ContentLength > maxSize {
		return nil, newError(http.StatusBadRequest, "EntityTooLarge",
			"Your proposed upload exceeds the maximum allowed size of %d bytes.", int64(maxSize)).
			with("MaxSizeAllowed", fmt.Sprint(maxSize)).with("ProposedSize", fmt.Sprint(r.ContentLength))
	}
	wantMD5, err := contentMD5(r.Header)
	if err != nil {
		return nil, err
	}
	var (
		blob *store.BlobWriter
		sink io.ReaderFrom
		sw   *sealWriter
	)
	if key != nil {
		if sw, err = rc.s.newSealWriter(key); err != nil {
			return nil, err
		}
		blob, sink = sw.blob, sw
	} else {
		if blob, err = rc.s.store.NewBlob(); err != nil {
			return nil, fmt.Errorf("staging request body: %w", err)
		}
		sink = blob
	}
	body := &trackingReader{r: r.Body}
	var src io.Reader = body
	if chunked {
		src = io.LimitReader(body, maxSize+1)
	}
	n, err := sink.ReadFrom(src)
	if err == nil && sw != nil {
		err = sw.finish()
	}
	if body.err != nil {
		// Checked even when ReadFrom succeeded: it ends quietly on
		// io.ErrUnexpectedEOF, which is also how net/http reports a
		// chunked body cut off mid-stream, and that must not be stored.
		blob.Abort()
		return nil, bodyReadError(body.err)
	}
	if err != nil {
		blob.Abort()
		return nil, fmt.Errorf("staging request body: %w", err)
	}
	switch {
	case chunked && n > maxSize:
		blob.Abort()
		return nil, newError(http.StatusBadRequest, "EntityTooLarge",
			"Your proposed upload exceeds the maximum allowed size of %d bytes.", int64(maxSize)).
			with("MaxSizeAllowed", fmt.Sprint(maxSize))
	case !chunked && n != r.ContentLength:
		blob.Abort()
		return nil, errBodyIncomplete
	}
	if wantMD5 != nil && !bytes.Equal(wantMD5, blob.MD5()) {
		blob.Abort()
		return nil, newError(http.StatusBadRequest, "InvalidDigest",
			"The Content-MD5 you specified did not match what was received.").
			with("Content-MD5", r.Header.Get("Content-MD5")).
			with("CalculatedMD5", base64.StdEncoding.EncodeToString(blob.MD5()))
	}
	return blob, nil
}

// readSmallBody reads a bounded request body (XML documents); exceeding
// limit gives 400 and the rest is not read.
func (rc *reqCtx) readSmallBody(limit int64) ([]byte, error) {
	r := rc.r
	if r.ContentLength > limit {
		return nil, errMalformedXML("The request body is %d bytes; at most %d are accepted.", r.ContentLength, limit)
	}
	body := &trackingReader{r: r.Body}
	data, err := io.ReadAll(io.LimitReader(body, limit+1))
	if err != nil {
		if body.err != nil {
			return nil, bodyReadError(body.err)
		}
		return nil, fmt.Errorf("reading request body: %w", err)
	}
	if !isChunked(r) && r.ContentLength >= 0 && int64(len(data)) < r.ContentLength {
		return nil, errBodyIncomplete
	}
	if int64(len(data)) > limit {
		return nil, errMalformedXML("The request body exceeds %d bytes.", limit)
	}
	if want, err := contentMD5(r.Header); err != nil {
		return nil, err
	} else if want != nil {
		if sum := md5.Sum(data); !bytes.Equal(sum[:], want) { //nolint:gosec // G401: checking Content-MD5, an integrity header defined as MD5
			return nil, newError(http.StatusBadRequest, "InvalidDigest",
				"The Content-MD5 you specified did not match what was received.").
				with("Content-MD5", r.Header.Get("Content-MD5"))
		}
	}
	return data, nil
}

// maxXMLDepth bounds element nesting in request documents; the deepest
// OSS configuration (lifecycle) nests six levels.
const maxXMLDepth = 32

// decodeXML unmarshals one XML document into v. DTDs (and with them any
// entity definitions) are refused; undefined entities, a wrong root
// element, trailing content, nesting deeper than maxXMLDepth and non-UTF-8
// encodings are MalformedXML.
func decodeXML(data []byte, v any) error {
	if err := checkXMLShape(data); err != nil {
		return err
	}
	d := xml.NewDecoder(bytes.NewReader(data))
	d.Strict = true
	for {
		tok, err := d.Token()
		if err != nil {
			return errMalformedXML("The XML you provided was not well-formed: %v", err)
		}
		if t, ok := tok.(xml.StartElement); ok {
			if err := d.DecodeElement(v, &t); err != nil {
				return errMalformedXML("The XML you provided did not validate against our published schema: %v", err)
			}
			return nil
		}
	}
}

// checkXMLShape walks the whole document once: well-formed, one root
// element, no DTD, no text outside the root, bounded depth.
func checkXMLShape(data []byte) error {
	d := xml.NewDecoder(bytes.NewReader(data))
	d.Strict = true
	rootSeen := false
	depth := 0
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			if !rootSeen {
				return errMalformedXML("The XML you provided is empty.")
			}
			return nil
		}
		if err != nil {
			return errMalformedXML("The XML you provided was not well-formed: %v", err)
		}
		switch t := tok.(type) {
		case xml.Directive:
			return errMalformedXML("Document type declarations are not allowed.")
		case xml.CharData:
			if depth == 0 && len(bytes.TrimSpace(t)) != 0 {
				return errMalformedXML("The XML you provided has text outside its root element.")
			}
		case xml.StartElement:
			if depth == 0 {
				if rootSeen {
					return errMalformedXML("The XML you provided has more than one root element.")
				}
				rootSeen = true
			}
			depth++
			if depth > maxXMLDepth {
				return errMalformedXML("The XML you provided nests elements deeper than %d levels.", maxXMLDepth)
			}
		case xml.EndElement:
			depth--
		}
	}
}

// readXML reads a bounded body and decodes it into v. present=false when
// the body is empty.
func (rc *reqCtx) readXML(limit int64, v any) (present bool, err error) {
	data, err := rc.readSmallBody(limit)
	if err != nil {
		return false, err
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return false, nil
	}
	return true, decodeXML(data, v)
}
