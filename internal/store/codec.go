package store

// Binary codec for object and upload records.
//
// JSON would replace invalid UTF-8 in strings with U+FFFD, and keys, header
// values and user metadata are arbitrary bytes, so object records (and the
// template inside upload records) use this exact encoding: a format byte,
// then the fields in a fixed order, strings and byte counts as uvarint
// length + bytes, integers as varints, maps as a count and key-sorted pairs.
// A record that does not parse exactly (bad lengths, trailing bytes) is
// corrupt. Changing the layout means a new format byte.

import (
	"encoding/binary"
	"errors"
	"slices"
	"time"
)

const (
	objectFormat byte = 2
	uploadFormat byte = 3
)

var errBadRecord = errors.New("malformed binary record")

// Extent flag bits in object records.
const (
	extentInline byte = 1 << 0
	extentSealed byte = 1 << 1
)

type encoder struct{ b []byte }

func (e *encoder) uvarint(v uint64) { e.b = binary.AppendUvarint(e.b, v) }
func (e *encoder) varint(v int64)   { e.b = binary.AppendVarint(e.b, v) }
func (e *encoder) u64(v uint64)     { e.b = binary.BigEndian.AppendUint64(e.b, v) }

func (e *encoder) bool(v bool) {
	if v {
		e.b = append(e.b, 1)
	} else {
		e.b = append(e.b, 0)
	}
}

func (e *encoder) str(s string) {
	e.uvarint(uint64(len(s)))
	e.b = append(e.b, s...)
}

func (e *encoder) time(t time.Time) {
	e.varint(t.Unix())
	e.uvarint(uint64(t.Nanosecond())) //nolint:gosec // G115: Nanosecond is in [0, 999999999]
}

func (e *encoder) strMap(m map[string]string) {
	e.uvarint(uint64(len(m)))
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		e.str(k)
		e.str(m[k])
	}
}

func (e *encoder) object(o *Object) {
	e.str(o.Key)
	e.str(o.VersionID)
	e.varint(o.Size)
	e.str(o.ETag)
	e.u64(o.CRC64)
	e.str(o.Type)
	e.str(o.StorageClass)
	e.time(o.Modified)
	e.str(o.ContentType)
	e.strMap(o.Headers)
	e.strMap(o.UserMeta)
	e.str(o.ACL)
	e.str(o.Tagging)
	e.str(o.Symlink)
	e.bool(o.DeleteMarker)
	e.uvarint(uint64(len(o.Extents)))
	for _, x := range o.Extents {
		e.str(x.Blob)
		e.varint(x.Size)
		// Flags: bit 0 inline, bit 1 sealed (then Stored and Seal follow).
		// Records written before sealing existed hold 0 or 1 here.
		var flags byte
		if x.Inline {
			flags |= extentInline
		}
		if x.Sealed() {
			flags |= extentSealed
		}
		e.b = append(e.b, flags)
		if x.Sealed() {
			e.varint(x.Stored)
			e.str(x.Seal)
		}
	}
	e.strMap(o.Extra)
}

// decoder reads what encoder wrote; the first error sticks.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail() { d.err = errBadRecord }

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) u64() uint64 {
	if d.err != nil || len(d.b) < 8 {
		d.fail()
		return 0
	}
	v := binary.BigEndian.Uint64(d.b)
	d.b = d.b[8:]
	return v
}

func (d *decoder) bool() bool {
	if d.err != nil || len(d.b) < 1 || d.b[0] > 1 {
		d.fail()
		return false
	}
	v := d.b[0] == 1
	d.b = d.b[1:]
	return v
}

func (d *decoder) byte() byte {
	if d.err != nil || len(d.b) < 1 {
		d.fail()
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *decoder) str() string {
	n := d.uvarint()
	if d.err != nil || n > uint64(len(d.b)) {
		d.fail()
		return ""
	}
	s := intern(d.b[:n])
	d.b = d.b[n:]
	return s
}

// intern returns common field values without allocating.
func intern(b []byte) string {
	switch string(b) { // no allocation: the compiler compares in place
	case "":
		return ""
	case NullVersion:
		return NullVersion
	case TypeNormal:
		return TypeNormal
	case TypeMultipart:
		return TypeMultipart
	case TypeAppendable:
		return TypeAppendable
	case "Standard":
		return "Standard"
	case "IA":
		return "IA"
	case "Archive":
		return "Archive"
	case "application/octet-stream":
		return "application/octet-stream"
	}
	return string(b)
}

func (d *decoder) time() time.Time {
	sec := d.varint()
	nsec := d.uvarint()
	if d.err != nil || nsec >= 1e9 {
		d.fail()
		return time.Time{}
	}
	return time.Unix(sec, int64(nsec)).UTC()
}

func (d *decoder) strMap() map[string]string {
	n := d.uvarint()
	if d.err != nil || n > uint64(len(d.b))/2 { // each pair takes at least two bytes
		d.fail()
		return nil
	}
	if n == 0 {
		return nil
	}
	m := make(map[string]string, n)
	for ; n > 0 && d.err == nil; n-- {
		k := d.str()
		m[k] = d.str()
	}
	return m
}

func (d *decoder) object(o *Object) {
	o.Key = d.str()
	o.VersionID = d.str()
	o.Size = d.varint()
	o.ETag = d.str()
	o.CRC64 = d.u64()
	o.Type = d.str()
	o.StorageClass = d.str()
	o.Modified = d.time()
	o.ContentType = d.str()
	o.Headers = d.strMap()
	o.UserMeta = d.strMap()
	o.ACL = d.str()
	o.Tagging = d.str()
	o.Symlink = d.str()
	o.DeleteMarker = d.bool()
	n := d.uvarint()
	if d.err != nil || n > uint64(len(d.b))/3 { // each extent takes at least three bytes
		d.fail()
		return
	}
	if n > 0 {
		o.Extents = make([]Extent, n)
		for i := range o.Extents {
			x := Extent{Blob: d.str(), Size: d.varint()}
			flags := d.byte()
			if flags&^(extentInline|extentSealed) != 0 {
				d.fail()
			}
			x.Inline = flags&extentInline != 0
			if flags&extentSealed != 0 {
				x.Stored = d.varint()
				x.Seal = d.str()
				if x.Stored <= 0 {
					d.fail()
				}
			}
			o.Extents[i] = x
			// Blob IDs become file names: anything else is damage.
			if d.err == nil && (!isBlobID(x.Blob) || x.Size < 0) {
				d.fail()
			}
		}
	}
	o.Extra = d.strMap()
}

// encodeObject encodes an object record.
func encodeObject(o *Object) []byte {
	e := encoder{b: make([]byte, 0, 160+len(o.Key)+40*len(o.Extents))}
	e.b = append(e.b, objectFormat)
	e.object(o)
	return e.b
}

// unmarshalObject decodes an object record.
func unmarshalObject(data []byte, o *Object) error {
	if len(data) == 0 || data[0] != objectFormat {
		return errors.New("unknown object record format")
	}
	d := decoder{b: data[1:]}
	d.object(o)
	if d.err == nil && len(d.b) != 0 {
		d.fail()
	}
	return d.err
}

// encodeUpload encodes an upload record.
func encodeUpload(u *Upload) []byte {
	e := encoder{b: make([]byte, 0, 200+2*len(u.Key))}
	e.b = append(e.b, uploadFormat)
	e.str(u.Key)
	e.str(u.UploadID)
	e.time(u.Initiated)
	e.object(&u.Template)
	return e.b
}

// unmarshalUpload decodes an upload record.
func unmarshalUpload(data []byte, u *Upload) error {
	if len(data) == 0 || data[0] != uploadFormat {
		return errors.New("unknown upload record format")
	}
	d := decoder{b: data[1:]}
	u.Key = d.str()
	u.UploadID = d.str()
	u.Initiated = d.time()
	d.object(&u.Template)
	if d.err == nil && len(d.b) != 0 {
		d.fail()
	}
	return d.err
}
