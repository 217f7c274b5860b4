package transfer

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"sync"
)

// checkpointVersion is the format version of checkpoint files.
const checkpointVersion = 1

// Checkpoint is the JSON state of a resumable multipart transfer. It is bound to what it
// transfers: a changed source (size, mtime or ETag) or another destination makes it stale.
type Checkpoint struct {
	Version int    `json:"version"`
	Kind    string `json:"kind"` // upload, download, copy
	// Source is an absolute local path or an oss:// URL; Destination likewise.
	Source      string `json:"source"`
	Destination string `json:"destination"`
	Size        int64  `json:"size"`
	// ModTime is the local source's mtime (uploads), in Unix nanoseconds.
	ModTime int64 `json:"mtimeNs,omitempty"`
	// ETag is the remote source's ETag (downloads and copies).
	ETag     string `json:"etag,omitempty"`
	PartSize int64  `json:"partSize"`
	// UploadID is the multipart upload being filled (uploads and copies).
	UploadID string `json:"uploadId,omitempty"`
	// TempFile is the file being filled (downloads).
	TempFile string `json:"tempFile,omitempty"`
	// Encryption describes the client-side encryption of the transfer ("kms:alias/x+sdk" for
	// an encrypted upload, "decrypt" for a decrypting download); other settings make the
	// checkpoint stale.
	Encryption string `json:"encryption,omitempty"`
	// Envelope is an encrypted upload's envelope metadata: the data key wrapped by the master
	// key (never the key itself), so that a resumed upload re-encrypts the missing parts with
	// the same key.
	Envelope map[string]string `json:"envelope,omitempty"`
	// Parts are the parts already done.
	Parts []CheckpointPart `json:"parts"`
}

// CheckpointPart is one finished part.
type CheckpointPart struct {
	Number int    `json:"n"`
	ETag   string `json:"etag,omitempty"`
	Size   int64  `json:"size"`
	// CRC64 is the part's CRC-64/ECMA (uploads and downloads).
	CRC64 uint64 `json:"crc64,string"`
}

// sameTarget reports whether two checkpoints describe the same transfer of the same source.
func (c *Checkpoint) sameTarget(o *Checkpoint) bool {
	return c.Kind == o.Kind && c.Source == o.Source && c.Destination == o.Destination &&
		c.Size == o.Size && c.ModTime == o.ModTime && c.ETag == o.ETag && c.PartSize == o.PartSize &&
		c.Encryption == o.Encryption
}

// checkpointFile keeps a Checkpoint on disk while parts finish. Saves are atomic (a temporary
// file renamed over the old one, so a killed process leaves the old or the new state, never a
// mix) and coalesced: a part that finishes while another save runs is written by the next.
type checkpointFile struct {
	path string // "" when checkpoints are disabled: everything is in memory only

	mu    sync.Mutex
	cp    Checkpoint
	gen   uint64
	saved uint64

	saveMu sync.Mutex
}

// checkpointPath returns the checkpoint file of a transfer, named after its identity, or ""
// when checkpoints are disabled.
func (c *Config) checkpointPath(kind string, identity ...string) (string, error) {
	if c.CheckpointDir == "" {
		return "", nil
	}
	if err := os.MkdirAll(c.CheckpointDir, 0o700); err != nil {
		return "", fmt.Errorf("creating checkpoint directory %s: %w", c.CheckpointDir, err)
	}
	return filepath.Join(c.CheckpointDir, kind+"-"+digest(identity...)+".json"), nil
}

// loadCheckpoint reads the checkpoint at path. A missing file returns nil. A corrupt file is
// reported through warn, removed, and returns nil: the transfer starts over.
func (c *Config) loadCheckpoint(path string) *Checkpoint {
	cp, _ := c.loadCheckpointSalvage(path)
	return cp
}

// uploadIDField finds a multipart upload id in checkpoint bytes that no longer parse.
var uploadIDField = regexp.MustCompile(`"uploadId"\s*:\s*"([0-9A-Za-z._~-]{1,256})"`)

// loadCheckpointSalvage is loadCheckpoint that also returns, for a corrupt checkpoint, the
// multipart upload id that can still be read from it (""), so that the upload it started can be
// aborted instead of being left behind on the server.
func (c *Config) loadCheckpointSalvage(path string) (cp *Checkpoint, orphanUploadID string) {
	if path == "" {
		return nil, ""
	}
	data, err := os.ReadFile(path) //nolint:gosec // G304: a checkpoint in the user's --checkpoint-dir
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			c.warn("cannot read checkpoint %s (%v): starting the transfer over", path, err)
			removeQuietly(path)
		}
		return nil, ""
	}
	var parsed Checkpoint
	if err := json.Unmarshal(data, &parsed); err != nil || parsed.Version != checkpointVersion || parsed.Kind == "" {
		if err == nil {
			err = fmt.Errorf("unknown version %d", parsed.Version)
		}
		c.warn("checkpoint %s is corrupt (%v): discarded it, starting the transfer over", path, err)
		removeQuietly(path)
		if m := uploadIDField.FindSubmatch(data); m != nil {
			orphanUploadID = string(m[1])
		}
		return nil, orphanUploadID
	}
	return &parsed, ""
}

func newCheckpointFile(path string, cp Checkpoint) *checkpointFile {
	cp.Version = checkpointVersion
	return &checkpointFile{path: path, cp: cp, gen: 1}
}

// done returns the finished parts by number.
func (f *checkpointFile) done() map[int]CheckpointPart {
	f.mu.Lock()
	defer f.mu.Unlock()
	m := make(map[int]CheckpointPart, len(f.cp.Parts))
	for _, p := range f.cp.Parts {
		m[p.Number] = p
	}
	return m
}

// parts returns the finished parts in number order.
func (f *checkpointFile) parts() []CheckpointPart {
	f.mu.Lock()
	defer f.mu.Unlock()
	ps := append([]CheckpointPart(nil), f.cp.Parts...)
	sort.Slice(ps, func(i, j int) bool { return ps[i].Number < ps[j].Number })
	return ps
}

// setParts replaces the finished parts (after reconciling with the server).
func (f *checkpointFile) setParts(ps []CheckpointPart) {
	f.mu.Lock()
	f.cp.Parts = ps
	f.gen++
	f.mu.Unlock()
}

// add records a finished part and saves.
func (f *checkpointFile) add(p CheckpointPart) error {
	f.mu.Lock()
	f.cp.Parts = append(f.cp.Parts, p)
	f.gen++
	f.mu.Unlock()
	return f.save()
}

// save writes the current state unless a newer or equal state is already on disk.
func (f *checkpointFile) save() error {
	if f.path == "" {
		return nil
	}
	f.saveMu.Lock()
	defer f.saveMu.Unlock()
	f.mu.Lock()
	if f.saved == f.gen {
		f.mu.Unlock()
		return nil
	}
	gen := f.gen
	data, err := json.Marshal(&f.cp)
	f.mu.Unlock()
	if err != nil {
		return fmt.Errorf("encoding checkpoint: %w", err)
	}
	if err := writeAtomic(f.path, data); err != nil {
		return fmt.Errorf("saving checkpoint %s: %w", f.path, err)
	}
	f.saved = gen
	return nil
}

// remove deletes the checkpoint file (the transfer finished or cannot be resumed).
func (f *checkpointFile) remove() {
	if f.path == "" {
		return
	}
	f.saveMu.Lock()
	defer f.saveMu.Unlock()
	removeQuietly(f.path)
	f.mu.Lock()
	f.saved = f.gen // nothing more to save
	f.mu.Unlock()
}

// writeAtomic replaces path with data through a temporary file in the same directory and a
// rename. It does not fsync: checkpoints must survive a killed process, not a power cut (after
// which a stale or missing checkpoint only costs a restart).
func writeAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	name := tmp.Name()
	if _, err := tmp.Write(data); err != nil {
		_ = tmp.Close()
		removeQuietly(name)
		return err
	}
	if err := tmp.Chmod(0o600); err != nil {
		_ = tmp.Close()
		removeQuietly(name)
		return err
	}
	if err := tmp.Close(); err != nil {
		removeQuietly(name)
		return err
	}
	if err := os.Rename(name, path); err != nil {
		removeQuietly(name)
		return err
	}
	return nil
}
