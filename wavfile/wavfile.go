// Package wavfile writes 16-bit PCM WAV files as audio arrives and repairs the
// header of a file whose writer died before closing it.
//
// Crash safety rests on two properties. First, the header written by Create is
// the 44-byte canonical one (RIFF/WAVE, a 16-byte "fmt " chunk, then "data"),
// so the only fields that change while recording are the RIFF size at offset 4
// and the data size at offset 40. Second, audio reaches the file in order and
// the file is never rewritten in the middle, so after a kill -9 everything on
// disk past byte 44 is audio. Repair recomputes the two sizes from the file
// size. A caller that calls Flush about once a second therefore loses at most
// about a second of audio (plus whatever was still in the ~8 KiB buffer, which
// is under 0.6 s even for 8 kHz mono) when the process is killed.
//
// Layout (RFC 2361 registers format tag 1 as WAVE_FORMAT_PCM):
//
//	0  "RIFF"  4  RIFF size = 36 + data size
//	8  "WAVE"
//	12 "fmt "  16 16  20 format 1  22 channels  24 rate  28 byte rate  32 block align  34 bits 16
//	36 "data"  40 data size
//	44 interleaved little-endian int16 samples
//
// RIFF chunks are word aligned: a chunk with an odd size is followed by a pad
// byte that its size does not count. With 16-bit samples the data chunk is
// always an even number of bytes, so no pad byte ever arises and the RIFF
// size is exactly 36 + data size.
package wavfile

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// ErrNotWAV is returned by Repair and Info for a file that does not start with
// the canonical 44-byte PCM header this package writes (a foreign or garbage file).
var ErrNotWAV = errors.New("wavfile: not a PCM WAV file this package wrote")

// ErrClosed is returned by Writer methods called after Close or Abort.
var ErrClosed = errors.New("wavfile: writer closed")

// ErrTooLarge is returned by Write when the samples would push the file past
// the 4 GiB that the 32-bit RIFF size field can describe.
var ErrTooLarge = errors.New("wavfile: file would exceed the 4 GiB WAV size limit")

const (
	// headerSize is the size of the canonical header; audio starts here.
	headerSize = 44
	// riffSizeOffset and dataSizeOffset are the two header fields that
	// change as audio is appended.
	riffSizeOffset = 4
	dataSizeOffset = 40
	// riffOverhead is what the RIFF size counts besides the audio: "WAVE"
	// (4) + fmt chunk (8+16) + data chunk header (8).
	riffOverhead = headerSize - 8
	// bitsPerSample is fixed: the package writes 16-bit PCM only.
	bitsPerSample  = 16
	bytesPerSample = bitsPerSample / 8
	// defaultBuffer is the buffer between Write and the file: small, so
	// that audio reaches the file (and survives a killed process) in
	// pieces between flushes. BufferSize sets another, within
	// minBuffer..maxBuffer.
	defaultBuffer = 8 << 10
	minBuffer     = 4 << 10
	maxBuffer     = 1 << 20

	minRate = 8000
	maxRate = 48000
)

// maxDataSize returns the largest data size, a whole number of frames, for
// which the RIFF size (36 + data) still fits in 32 bits.
func maxDataSize(blockAlign int) int64 {
	limit := int64(^uint32(0)) - riffOverhead
	return limit - limit%int64(blockAlign)
}

// Writer appends 16-bit PCM audio to a WAV file. Its methods are safe for
// concurrent use, so one goroutine may Write while another calls Flush on a
// timer.
type Writer struct {
	mu sync.Mutex

	path       string
	f          *os.File
	bw         *bufio.Writer
	channels   int
	rate       int
	blockAlign int
	maxData    int64

	// dataBytes counts audio bytes accepted by Write, buffered or not.
	dataBytes int64
	// hdrData is the data size currently in the header on disk; -1 until
	// the first header update so that an empty file still gets RIFF size 36.
	hdrData int64
	// err is the first I/O error; once set the writer only closes.
	err error

	closed   bool
	closeErr error

	scratch [4]byte
}

// Create creates path (mode 0600; missing parent directories are created with
// mode 0750), writes a canonical 44-byte header for channels (1 or 2) and rate
// (8000..48000 Hz) 16-bit PCM with both sizes provisionally 0, and returns a
// Writer positioned after it. Like os.Create it truncates an existing file.
func Create(path string, channels, rate int, opts ...Option) (*Writer, error) {
	o := options{buffer: defaultBuffer}
	for _, opt := range opts {
		opt(&o)
	}
	if channels != 1 && channels != 2 {
		return nil, fmt.Errorf("wavfile: create %s: channels %d, want 1 or 2", path, channels)
	}
	if rate < minRate || rate > maxRate {
		return nil, fmt.Errorf("wavfile: create %s: rate %d Hz, want %d..%d", path, rate, minRate, maxRate)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("wavfile: create %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("wavfile: create %s: %w", path, err)
	}
	hdr := encodeHeader(channels, rate, 0, 0)
	if _, err := f.Write(hdr[:]); err != nil {
		_ = f.Close()
		_ = os.Remove(path)
		return nil, fmt.Errorf("wavfile: create %s: write header: %w", path, err)
	}
	blockAlign := channels * bytesPerSample
	return &Writer{
		path:       path,
		f:          f,
		bw:         bufio.NewWriterSize(f, o.buffer),
		channels:   channels,
		rate:       rate,
		blockAlign: blockAlign,
		maxData:    maxDataSize(blockAlign),
		hdrData:    -1,
	}, nil
}

// Write appends interleaved samples (left, right, left, ... for stereo); the
// length must be a multiple of the channel count. Audio is buffered; it
// reaches the file when the buffer fills or on Flush. Write does not allocate.
func (w *Writer) Write(samples []int16) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return ErrClosed
	}
	if w.err != nil {
		return w.err
	}
	if len(samples)%w.channels != 0 {
		return fmt.Errorf("wavfile: write %s: %d samples is not a whole number of %d-channel frames",
			w.path, len(samples), w.channels)
	}
	if w.dataBytes+int64(len(samples))*bytesPerSample > w.maxData {
		return fmt.Errorf("wavfile: write %s: %w", w.path, ErrTooLarge)
	}
	for len(samples) > 0 {
		// Encode straight into the buffer's free space: no second copy.
		buf := w.bw.AvailableBuffer()
		n := min(len(samples), cap(buf)/bytesPerSample)
		if n == 0 {
			if err := w.bw.Flush(); err != nil {
				w.err = fmt.Errorf("wavfile: write %s: %w", w.path, err)
				return w.err
			}
			continue
		}
		buf = buf[:n*bytesPerSample]
		for i, s := range samples[:n] {
			binary.LittleEndian.PutUint16(buf[i*bytesPerSample:], uint16(s))
		}
		written, err := w.bw.Write(buf)
		w.dataBytes += int64(written)
		if err != nil {
			w.err = fmt.Errorf("wavfile: write %s: %w", w.path, err)
			return w.err
		}
		samples = samples[n:]
	}
	return nil
}

// Option changes how Create sets up a Writer.
type Option func(*options)

type options struct{ buffer int }

// BufferSize sets the buffer between Write and the file to n bytes, rounded
// up to 4 KiB and bounded to 4 KiB..1 MiB (default 8 KiB). A writer that
// flushes on a schedule and can afford the memory sizes it to hold one
// interval's audio, so each flush is one write(2): the buffer's own
// overflows would otherwise add several a second. Audio in the buffer is
// lost if the process dies, so the interval must bound the loss.
func BufferSize(n int) Option {
	return func(o *options) { o.buffer = min(maxBuffer, max(minBuffer, (n+4095)&^4095)) }
}

// Flush pushes buffered audio to the file and rewrites the RIFF and data sizes
// in the header, so the file on disk is a valid WAV of everything written so
// far. It does not fsync (see Sync); data in the page cache survives a killed
// process, which is the failure Flush guards against. Callers flush about once
// a second.
func (w *Writer) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return ErrClosed
	}
	return w.flushLocked()
}

// Sync flushes like Flush and then fsyncs the file, so the audio so far also
// survives a power loss.
func (w *Writer) Sync() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return ErrClosed
	}
	if err := w.flushLocked(); err != nil {
		return err
	}
	if err := w.f.Sync(); err != nil {
		return fmt.Errorf("wavfile: sync %s: %w", w.path, err)
	}
	return nil
}

// Frames returns the number of sample frames (samples per channel) written so
// far, including audio still buffered.
func (w *Writer) Frames() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.dataBytes / int64(w.blockAlign)
}

// Duration returns the length of the audio written so far.
func (w *Writer) Duration() time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	return framesDuration(w.dataBytes/int64(w.blockAlign), w.rate)
}

// Bytes returns the size the file has once everything written so far is
// flushed, header included.
func (w *Writer) Bytes() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return headerSize + w.dataBytes
}

// Truncate drops all audio after the first frames frames (used to cut
// trailing silence) and updates the header; later Writes append after the
// kept audio. frames greater than Frames() is an error.
func (w *Writer) Truncate(frames int64) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return ErrClosed
	}
	if w.err != nil {
		return w.err
	}
	have := w.dataBytes / int64(w.blockAlign)
	if frames < 0 || frames > have {
		return fmt.Errorf("wavfile: truncate %s to %d frames: have %d", w.path, frames, have)
	}
	// Push buffered audio first so the file and the buffer cannot disagree
	// about where the audio ends.
	if err := w.bw.Flush(); err != nil {
		w.err = fmt.Errorf("wavfile: truncate %s: %w", w.path, err)
		return w.err
	}
	size := headerSize + frames*int64(w.blockAlign)
	if err := w.f.Truncate(size); err != nil {
		w.err = fmt.Errorf("wavfile: truncate %s: %w", w.path, err)
		return w.err
	}
	// Writes go through the file offset, which still points at the old end;
	// without this seek the next Write would leave a hole of zeros.
	if _, err := w.f.Seek(size, io.SeekStart); err != nil {
		w.err = fmt.Errorf("wavfile: truncate %s: %w", w.path, err)
		return w.err
	}
	w.dataBytes = frames * int64(w.blockAlign)
	return w.writeSizesLocked(w.dataBytes)
}

// Close flushes, fixes the header, fsyncs and closes the file. It is
// idempotent: later calls return the first call's result. If a write had
// failed, Close still closes the file and returns that error; Repair can then
// make the file consistent with whatever reached the disk.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return w.closeErr
	}
	w.closed = true
	err := w.flushLocked()
	if err == nil {
		if serr := w.f.Sync(); serr != nil {
			err = fmt.Errorf("wavfile: close %s: sync: %w", w.path, serr)
		}
	}
	if cerr := w.f.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("wavfile: close %s: %w", w.path, cerr)
	}
	if err == nil {
		// The file's own fsync does not persist its directory entry; without
		// this a power loss could lose a freshly created recording entirely.
		err = syncDir(filepath.Dir(w.path))
	}
	w.closeErr = err
	return err
}

// Abort closes the file without flushing and removes it (for a message too
// short to keep). Abort on a writer already closed or aborted returns
// ErrClosed and leaves any file alone.
func (w *Writer) Abort() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return ErrClosed
	}
	w.closed = true
	cerr := w.f.Close()
	if err := os.Remove(w.path); err != nil {
		return fmt.Errorf("wavfile: abort %s: %w", w.path, err)
	}
	if cerr != nil {
		return fmt.Errorf("wavfile: abort %s: %w", w.path, cerr)
	}
	return nil
}

// flushLocked writes buffered audio and then the header sizes. The order
// matters: sizes must never claim audio that is not yet in the file.
func (w *Writer) flushLocked() error {
	if w.err != nil {
		return w.err
	}
	if err := w.bw.Flush(); err != nil {
		w.err = fmt.Errorf("wavfile: flush %s: %w", w.path, err)
		return w.err
	}
	return w.writeSizesLocked(w.dataBytes)
}

// writeSizesLocked rewrites the header sizes for data audio bytes unless the
// header already says so.
func (w *Writer) writeSizesLocked(data int64) error {
	if data == w.hdrData {
		return nil
	}
	if err := putSizes(w.f, &w.scratch, w.hdrData, data); err != nil {
		w.err = fmt.Errorf("wavfile: update header of %s: %w", w.path, err)
		return w.err
	}
	w.hdrData = data
	return nil
}

// putSizes rewrites the data size (offset 40) and RIFF size (offset 4) of f
// for data audio bytes, where old is the data size the header holds now.
//
// The two fields are separate writes, and a kill can land between them. The
// order keeps RIFF size <= 36 + data size at every instant (data first when
// growing, RIFF first when shrinking). Repair relies on that: a file whose
// RIFF size exceeds 36 + data size has chunks after "data" and so was not
// written by this package. scratch lives in the caller's long-lived struct so
// that the periodic header update does not allocate.
func putSizes(f *os.File, scratch *[4]byte, old, data int64) error {
	put := func(v uint32, off int64) error {
		binary.LittleEndian.PutUint32(scratch[:], v)
		_, err := f.WriteAt(scratch[:], off)
		return err
	}
	if data >= old {
		if err := put(uint32(data), dataSizeOffset); err != nil {
			return err
		}
		return put(uint32(data+riffOverhead), riffSizeOffset)
	}
	if err := put(uint32(data+riffOverhead), riffSizeOffset); err != nil {
		return err
	}
	return put(uint32(data), dataSizeOffset)
}

// encodeHeader returns the canonical header with the given sizes.
func encodeHeader(channels, rate int, riffSize, dataSize uint32) [headerSize]byte {
	var h [headerSize]byte
	le := binary.LittleEndian
	blockAlign := channels * bytesPerSample
	copy(h[0:], "RIFF")
	le.PutUint32(h[4:], riffSize)
	copy(h[8:], "WAVE")
	copy(h[12:], "fmt ")
	le.PutUint32(h[16:], 16) // PCM fmt chunk has no cbSize extension
	le.PutUint16(h[20:], 1)  // WAVE_FORMAT_PCM (RFC 2361)
	le.PutUint16(h[22:], uint16(channels))
	le.PutUint32(h[24:], uint32(rate))
	le.PutUint32(h[28:], uint32(rate*blockAlign))
	le.PutUint16(h[32:], uint16(blockAlign))
	le.PutUint16(h[34:], bitsPerSample)
	copy(h[36:], "data")
	le.PutUint32(h[40:], dataSize)
	return h
}

// framesDuration converts a frame count at rate Hz to a duration. The largest
// possible WAV (~2^31 frames) times 1e9 still fits in an int64.
func framesDuration(frames int64, rate int) time.Duration {
	return time.Duration(frames) * time.Second / time.Duration(rate)
}

// syncDir fsyncs a directory so entries created in it are durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("wavfile: sync dir %s: %w", dir, err)
	}
	serr := d.Sync()
	cerr := d.Close()
	if serr != nil {
		return fmt.Errorf("wavfile: sync dir %s: %w", dir, serr)
	}
	if cerr != nil {
		return fmt.Errorf("wavfile: sync dir %s: %w", dir, cerr)
	}
	return nil
}
