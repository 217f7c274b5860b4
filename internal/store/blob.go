package store

import (
	"crypto/md5" //nolint:gosec // MD5 is the OSS ETag and Content-MD5, not a security primitive
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/ossctl/ossctl/internal/crc64x"
)

// copyBufSize is the buffer used when streaming blob data in and out.
const copyBufSize = 1 << 20

var copyBufPool = sync.Pool{New: func() any { b := make([]byte, copyBufSize); return &b }}

func getCopyBuf() *[]byte  { return copyBufPool.Get().(*[]byte) }
func putCopyBuf(b *[]byte) { copyBufPool.Put(b) }

// newID returns a 128-bit identifier in lowercase hex: 64 bits of the
// current time in nanoseconds followed by 64 random bits. The time prefix
// makes new inline blobs sort after existing ones, so a batch of small PUTs
// appends to the end of the inline tree instead of dirtying a page per
// write; the random half keeps IDs unguessable and unique, and names the
// fan-out directory (blobFan).
func newID() string {
	var b [16]byte
	// A clock before 1970 wraps the conversion, which only changes the sort order.
	binary.BigEndian.PutUint64(b[:8], uint64(time.Now().UnixNano()))
	_, _ = rand.Read(b[8:]) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b[:])
}

// blobFan is the fan-out directory of a blob: the last two hex digits of
// its ID, which are random.
func blobFan(id string) string { return id[len(id)-2:] }

// isBlobID reports whether name looks like an ID made by newID.
func isBlobID(name string) bool {
	if len(name) != 32 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func (s *Store) blobDir(id string) string  { return filepath.Join(s.dir, "blobs", blobFan(id)) }
func (s *Store) blobPath(id string) string { return filepath.Join(s.dir, "blobs", blobFan(id), id) }

// syncDir fsyncs a directory so that a rename into it is durable.
func syncDir(dir string) error {
	d, err := os.Open(dir) //nolint:gosec // G304: a directory inside the store root, named by the store itself
	if err != nil {
		return fmt.Errorf("store: opening %s for sync: %w", dir, err)
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("store: syncing %s: %w", dir, err)
	}
	return nil
}

// removeBlobFiles deletes the files of non-inline extents. Failures are
// ignored: a file left behind is an orphan that the next Open removes.
func (s *Store) removeBlobFiles(exts []Extent) {
	for _, e := range exts {
		if !e.Inline && isBlobID(e.Blob) {
			_ = os.Remove(s.blobPath(e.Blob))
		}
	}
}

// ---- BlobWriter ----

type blobState int

const (
	blobOpen blobState = iota
	blobSealed
	blobCommitted
	blobDiscarded
)

// BlobWriter stages object or part data in a temp file while hashing it
// (MD5 and CRC-64/ECMA). It is not safe for concurrent use.
//
// Data up to the store's inline threshold is kept in memory and, if it stays
// that small, committed inside the metadata record's transaction without any
// file. Larger data goes to a temp file under <dir>/tmp, created on the first
// byte past the threshold.
type BlobWriter struct {
	s      *Store
	id     string
	limit  int64 // inline threshold; <0 = never inline
	buf    []byte
	f      *os.File
	tmp    string
	size   int64
	md5    hash.Hash
	crc    hash.Hash64
	state  blobState
	err    error // sticky write error
	sealed Extent
	// flushed is the offset up to which writeback of the temp file has
	// been started (see startWriteback).
	flushed int64

	// raw marks a blob made by NewSealedBlob: what is written is stored
	// as is and not hashed; content describes what it stands for.
	raw     bool
	content *blobContent
}

// blobContent is the caller's description of a sealed blob's content.
type blobContent struct {
	size int64
	md5  []byte
	crc  uint64
	seal string
}

// NewBlob starts staging data.
func (s *Store) NewBlob() (*BlobWriter, error) {
	if s.isClosed() {
		return nil, ErrClosed
	}
	return &BlobWriter{
		s:     s,
		id:    newID(),
		limit: s.inline,
		md5:   md5.New(), //nolint:gosec // ETag
		crc:   crc64x.New(),
	}, nil
}

// NewSealedBlob starts staging the stored form of content that the caller
// has transformed (server-side encrypted data). The bytes written are kept
// as they are and not hashed; before the blob is committed the caller must
// describe the content they stand for with SetContent. The resulting
// extent is sealed (see Extent).
func (s *Store) NewSealedBlob() (*BlobWriter, error) {
	w, err := s.NewBlob()
	if err != nil {
		return nil, err
	}
	w.raw = true
	return w, nil
}

// SetContent describes the content of a blob made by NewSealedBlob: its
// length, MD5 and CRC-64/ECMA, and the caller's per-extent parameters
// (printable text, kept uninterpreted in the extent's Seal). Size, MD5,
// CRC64 and ETag report these values from then on.
func (w *BlobWriter) SetContent(size int64, md5sum []byte, crc uint64, seal string) error {
	if !w.raw {
		return errors.New("store: SetContent on a blob that is not sealed")
	}
	if size < 0 || (size == 0) != (w.size == 0) {
		return fmt.Errorf("%w: sealed blob of %d stored bytes for %d content bytes", ErrInvalidArgument, w.size, size)
	}
	w.content = &blobContent{size: size, md5: append([]byte(nil), md5sum...), crc: crc, seal: seal}
	return nil
}

// spill moves the in-memory data to a new temp file.
func (w *BlobWriter) spill() error {
	f, err := os.CreateTemp(filepath.Join(w.s.dir, "tmp"), "blob-*")
	if err != nil {
		return fmt.Errorf("store: creating temp file: %w", err)
	}
	w.f, w.tmp = f, f.Name()
	if len(w.buf) > 0 {
		if _, err := f.Write(w.buf); err != nil {
			return fmt.Errorf("store: writing temp file: %w", err)
		}
	}
	w.buf = nil
	return nil
}

func (w *BlobWriter) writable() error {
	if w.err != nil {
		return w.err
	}
	if w.state != blobOpen {
		return errors.New("store: write to a committed or aborted blob")
	}
	return nil
}

// Write appends p.
func (w *BlobWriter) Write(p []byte) (int, error) {
	if err := w.writable(); err != nil {
		return 0, err
	}
	if w.f == nil {
		if w.limit >= 0 && w.size+int64(len(p)) <= w.limit {
			if w.buf == nil {
				w.buf = make([]byte, 0, min(max(int64(len(p)), 4096), w.limit))
			}
			w.buf = append(w.buf, p...)
			w.hash(p)
			w.size += int64(len(p))
			return len(p), nil
		}
		if err := w.spill(); err != nil {
			w.err = err
			return 0, err
		}
	}
	n, err := w.f.Write(p)
	w.hash(p[:n])
	w.size += int64(n)
	if err != nil {
		w.err = fmt.Errorf("store: writing temp file: %w", err)
		return n, w.err
	}
	return n, nil
}

func (w *BlobWriter) hash(p []byte) {
	if w.raw {
		return
	}
	_, _ = w.md5.Write(p) // hash writes never fail
	_, _ = w.crc.Write(p)
}

// ReadFrom copies r into the blob (used by io.Copy).
//
// Data is read in 1 MiB chunks. Once the blob is file-backed, the MD5 of a
// chunk is computed on another goroutine while the CRC-64 and the file write
// of the same chunk, and the read of the next one, proceed: on a machine
// with two or more cores hashing no longer serialises with I/O.
func (w *BlobWriter) ReadFrom(r io.Reader) (int64, error) {
	if err := w.writable(); err != nil {
		return 0, err
	}
	bufs := [2]*[]byte{getCopyBuf(), getCopyBuf()}
	var md5Done chan struct{} // closed when the in-flight MD5 finishes
	wait := func() {
		if md5Done != nil {
			<-md5Done
			md5Done = nil
		}
	}
	defer func() {
		wait() // before the buffers go back to the pool
		putCopyBuf(bufs[0])
		putCopyBuf(bufs[1])
	}()
	var total int64
	for i := 0; ; i++ {
		// The buffer read into now is not the one being hashed.
		buf := *bufs[i%2]
		n, rerr := io.ReadFull(r, buf)
		if n > 0 {
			wait() // MD5 is sequential: the previous chunk must be done
			chunk := buf[:n]
			var (
				m    int
				werr error
			)
			if w.f == nil && w.limit >= 0 && w.size+int64(n) <= w.limit {
				m, werr = w.Write(chunk)
			} else {
				m, werr = w.writeFileChunk(chunk, &md5Done)
			}
			total += int64(m)
			if werr != nil {
				return total, werr
			}
		}
		switch {
		case rerr == nil:
		case errors.Is(rerr, io.EOF), errors.Is(rerr, io.ErrUnexpectedEOF):
			return total, nil
		default:
			return total, rerr
		}
	}
}

// writeFileChunk writes chunk to the temp file (spilling first if needed),
// updating the CRC-64 inline and the MD5 on a goroutine whose completion is
// signalled on *md5Done. chunk must stay unchanged until then.
func (w *BlobWriter) writeFileChunk(chunk []byte, md5Done *chan struct{}) (int, error) {
	if w.f == nil {
		if err := w.spill(); err != nil {
			w.err = err
			return 0, err
		}
	}
	if !w.raw {
		done := make(chan struct{})
		go func() {
			_, _ = w.md5.Write(chunk)
			close(done)
		}()
		*md5Done = done
		_, _ = w.crc.Write(chunk)
	}
	n, err := w.f.Write(chunk)
	w.size += int64(n)
	if err != nil {
		w.err = fmt.Errorf("store: writing temp file: %w", err)
		return n, w.err
	}
	if w.size-w.flushed >= writebackChunk {
		startWriteback(w.f, w.flushed, w.size-w.flushed)
		w.flushed = w.size
	}
	return n, nil
}

// writebackChunk is how much written data a blob accumulates before its
// writeback to disk is started.
const writebackChunk = 8 << 20

// Size returns the number of bytes written so far. Size, MD5 and CRC64
// describe what has been written so far (for a sealed blob: the content given
// to SetContent).
func (w *BlobWriter) Size() int64 {
	if w.content != nil {
		return w.content.size
	}
	return w.size
}

// MD5 returns the MD5 digest of the data written so far.
func (w *BlobWriter) MD5() []byte {
	if w.content != nil {
		return append([]byte(nil), w.content.md5...)
	}
	return w.md5.Sum(nil)
}

// CRC64 returns the CRC-64/ECMA of the data written so far.
func (w *BlobWriter) CRC64() uint64 {
	if w.content != nil {
		return w.content.crc
	}
	return w.crc.Sum64()
}

// ETag returns the uppercase hex MD5 of the data written so far.
func (w *BlobWriter) ETag() string { return upperHex(w.MD5()) }

// Abort discards the staged data. Safe to call after a commit (no-op).
func (w *BlobWriter) Abort() {
	if w == nil || w.state == blobCommitted || w.state == blobDiscarded {
		return
	}
	w.discard()
}

// discard removes whatever the blob left on disk.
func (w *BlobWriter) discard() {
	if w.state == blobCommitted || w.state == blobDiscarded {
		return
	}
	if w.f != nil && w.state == blobOpen {
		_ = w.f.Close()
		w.f = nil
	}
	if w.tmp != "" {
		_ = os.Remove(w.tmp)
	}
	if w.state == blobSealed && !w.sealed.Inline && w.sealed.Blob != "" {
		_ = os.Remove(w.s.blobPath(w.sealed.Blob))
	}
	w.buf = nil
	w.state = blobDiscarded
}

// seal makes the data durable and returns its extent: small data stays in
// memory for an inline extent; a temp file is fsynced, renamed into the blob
// directory and the directory fsynced. Empty data has no extent (ok=false).
func (w *BlobWriter) seal() (Extent, bool, error) {
	if w.err != nil {
		return Extent{}, false, w.err
	}
	if w.state == blobSealed {
		return w.sealed, w.size > 0, nil
	}
	if w.state != blobOpen {
		return Extent{}, false, errors.New("store: blob already committed or aborted")
	}
	if w.raw && w.content == nil {
		w.err = errors.New("store: sealed blob committed without SetContent")
		return Extent{}, false, w.err
	}
	if w.size == 0 { // no data, no extent (and no file to keep)
		if w.f != nil {
			_ = w.f.Close()
			_ = os.Remove(w.tmp)
			w.f, w.tmp = nil, ""
		}
		w.state = blobSealed
		w.sealed = Extent{}
		return Extent{}, false, nil
	}
	if w.f == nil {
		w.state = blobSealed
		w.sealed = w.extent(true)
		return w.sealed, true, nil
	}
	if err := w.f.Sync(); err != nil {
		w.err = fmt.Errorf("store: syncing blob: %w", err)
		return Extent{}, false, w.err
	}
	if err := w.f.Close(); err != nil {
		w.err = fmt.Errorf("store: closing blob: %w", err)
		return Extent{}, false, w.err
	}
	w.state = blobSealed // from here on discard removes the final path too
	w.sealed = w.extent(false)
	if err := os.Rename(w.tmp, w.s.blobPath(w.id)); err != nil {
		w.err = fmt.Errorf("store: moving blob into place: %w", err)
		return Extent{}, false, w.err
	}
	w.tmp = ""
	if err := syncDir(w.s.blobDir(w.id)); err != nil {
		w.err = err
		return Extent{}, false, err
	}
	return w.sealed, w.size > 0, nil
}

// extent describes the staged data as an extent.
func (w *BlobWriter) extent(inline bool) Extent {
	if w.content != nil {
		return Extent{Blob: w.id, Size: w.content.size, Inline: inline, Stored: w.size, Seal: w.content.seal}
	}
	return Extent{Blob: w.id, Size: w.size, Inline: inline}
}

// inlineData returns the data of a sealed inline blob.
func (w *BlobWriter) inlineData() []byte { return w.buf }

// committed marks the blob as owned by a committed record.
func (w *BlobWriter) committed() {
	w.state = blobCommitted
	w.buf = nil
}

// ---- ObjectReader ----

type readExtent struct {
	off    int64 // offset of the extent in the object
	size   int64
	stored int64 // bytes on disk (== size unless sealed)
	seal   string
	sealed bool
	f      *os.File
	data   []byte
}

// ObjectReader reads an object's bytes across its extents. It holds the blob
// files open, so it keeps reading the version it was opened on even if that
// version is overwritten or deleted meanwhile. ReadAt is safe for concurrent
// use; concurrent WriteRangeTo calls are serialised.
//
// An object with sealed extents (server-side encrypted) is read through
// Pieces and ReadPieceAt; ReadAt and WriteRangeTo refuse it with ErrSealed
// rather than hand out stored bytes as content.
type ObjectReader struct {
	size    int64
	extents []readExtent
	sealed  bool
	mu      sync.Mutex // guards file offsets used by WriteRangeTo
	closed  bool
}

// ErrSealed reports a content read of an object whose extents are sealed.
var ErrSealed = errors.New("store: object data is sealed; read it through its pieces")

// Piece is one non-empty extent of an object as an ObjectReader sees it.
type Piece struct {
	Offset int64  // content offset of the piece in the object
	Size   int64  // content bytes
	Stored int64  // bytes on disk
	Sealed bool   // the stored bytes are a transformed form of the content
	Seal   string // the extent's Seal
}

// Sealed reports whether any extent of the object is sealed.
func (r *ObjectReader) Sealed() bool { return r.sealed }

// Pieces lists the object's non-empty extents in order.
func (r *ObjectReader) Pieces() []Piece {
	out := make([]Piece, len(r.extents))
	for i, e := range r.extents {
		out[i] = Piece{Offset: e.off, Size: e.size, Stored: e.stored, Sealed: e.sealed, Seal: e.seal}
	}
	return out
}

// ReadPieceAt reads stored bytes of piece i starting at stored offset off.
// It is safe for concurrent use. A piece whose data is shorter than its
// record says gives io.ErrUnexpectedEOF.
func (r *ObjectReader) ReadPieceAt(i int, p []byte, off int64) (int, error) {
	if i < 0 || i >= len(r.extents) {
		return 0, fmt.Errorf("%w: piece %d of %d", ErrInvalidArgument, i, len(r.extents))
	}
	e := r.extents[i]
	if off < 0 || off > e.stored {
		return 0, fmt.Errorf("%w: offset %d of a %d-byte piece", ErrInvalidRange, off, e.stored)
	}
	want := min(int64(len(p)), e.stored-off)
	dst := p[:want]
	if e.f == nil {
		copy(dst, e.data[off:off+want])
	} else {
		m, err := e.f.ReadAt(dst, off)
		if m < len(dst) {
			if err == nil || errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return m, fmt.Errorf("store: reading blob: %w", err)
		}
	}
	if int(want) < len(p) {
		return int(want), io.EOF
	}
	return int(want), nil
}

// Size is the object's size.
func (r *ObjectReader) Size() int64 { return r.size }

// find returns the index of the extent containing off (off < r.size).
func (r *ObjectReader) find(off int64) int {
	return sort.Search(len(r.extents), func(i int) bool {
		e := r.extents[i]
		return e.off+e.size > off
	})
}

// ReadAt implements io.ReaderAt over the whole object.
func (r *ObjectReader) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("%w: negative offset", ErrInvalidArgument)
	}
	if r.sealed {
		return 0, ErrSealed
	}
	if off >= r.size {
		if len(p) == 0 {
			return 0, nil
		}
		return 0, io.EOF
	}
	n := 0
	for i := r.find(off); i < len(r.extents) && n < len(p); i++ {
		e := r.extents[i]
		rel := off + int64(n) - e.off
		want := min(int64(len(p)-n), e.size-rel)
		dst := p[n : n+int(want)]
		if e.f == nil {
			copy(dst, e.data[rel:rel+want])
		} else {
			m, err := e.f.ReadAt(dst, rel)
			if m < len(dst) {
				if err == nil || errors.Is(err, io.EOF) {
					err = io.ErrUnexpectedEOF // blob shorter than its record
				}
				return n + m, fmt.Errorf("store: reading blob: %w", err)
			}
		}
		n += int(want)
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// WriteRangeTo copies bytes [off, off+n) to w.
func (r *ObjectReader) WriteRangeTo(w io.Writer, off, n int64) (int64, error) {
	if off < 0 || n < 0 || off > r.size || n > r.size-off {
		return 0, fmt.Errorf("%w: range %d+%d of a %d-byte object", ErrInvalidRange, off, n, r.size)
	}
	if r.sealed {
		return 0, ErrSealed
	}
	if n == 0 {
		return 0, nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var written int64
	bp := getCopyBuf()
	defer putCopyBuf(bp)
	for i := r.find(off); i < len(r.extents) && written < n; i++ {
		e := r.extents[i]
		rel := off + written - e.off
		want := min(n-written, e.size-rel)
		if e.f == nil {
			m, err := w.Write(e.data[rel : rel+want])
			written += int64(m)
			if err != nil {
				return written, err
			}
			continue
		}
		if _, err := e.f.Seek(rel, io.SeekStart); err != nil {
			return written, fmt.Errorf("store: seeking blob: %w", err)
		}
		// A LimitedReader over the file lets a socket destination use
		// sendfile; otherwise the bounded pooled buffer is used.
		m, err := io.CopyBuffer(w, &io.LimitedReader{R: e.f, N: want}, *bp)
		written += m
		if err != nil {
			return written, err
		}
		if m < want {
			return written, fmt.Errorf("store: reading blob: %w", io.ErrUnexpectedEOF)
		}
	}
	return written, nil
}

// Close releases the open blob files.
func (r *ObjectReader) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil
	}
	r.closed = true
	var first error
	for i := range r.extents {
		if f := r.extents[i].f; f != nil {
			if err := f.Close(); err != nil && first == nil {
				first = fmt.Errorf("store: closing blob: %w", err)
			}
		}
		r.extents[i].data = nil
	}
	return first
}

func upperHex(b []byte) string {
	const digits = "0123456789ABCDEF"
	out := make([]byte, len(b)*2)
	for i, c := range b {
		out[2*i] = digits[c>>4]
		out[2*i+1] = digits[c&0xf]
	}
	return string(out)
}
