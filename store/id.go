package store

import (
	"encoding/binary"
	"encoding/hex"
	"math"
	"math/rand/v2"
	"time"
)

// IDLength is the length of every ID produced by NewID.
const IDLength = 24

// maxIDLength bounds caller-supplied IDs; bbolt would accept keys up to
// 32 KiB, but an ID arrives from URLs and should stay small.
const maxIDLength = 64

var (
	idEpoch   = time.Unix(0, 0)
	idMaxTime = time.Unix(0, math.MaxInt64)
)

// NewID returns a new call ID for a call started at t: 16 hex digits of
// t's Unix time in nanoseconds followed by 8 random hex digits. IDs have a
// fixed width, so lexicographic order equals time order, which lets
// ListCalls page newest-first by walking bbolt keys backwards. Times before
// 1970 or after 2262 are clamped to the representable range.
func NewID(t time.Time) string {
	var ns uint64
	switch {
	case t.Before(idEpoch):
		ns = 0
	case !t.Before(idMaxTime):
		ns = math.MaxInt64
	default:
		ns = uint64(t.UnixNano())
	}
	var b [12]byte
	binary.BigEndian.PutUint64(b[:8], ns)
	binary.BigEndian.PutUint32(b[8:], rand.Uint32())
	return hex.EncodeToString(b[:])
}

// validID reports whether id is acceptable as a record key: 1 to 64 bytes
// of ASCII letters, digits, '-', '_' or '.'. Restricting the alphabet keeps
// IDs safe to embed in URLs, logs and file names.
func validID(id string) bool {
	if len(id) == 0 || len(id) > maxIDLength {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= '0' && c <= '9', c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '-', c == '_', c == '.':
		default:
			return false
		}
	}
	return true
}
