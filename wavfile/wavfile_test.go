package wavfile

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// wavFields are the header fields the test's own RIFF reader found.
type wavFields struct {
	riffSize   uint32
	format     int
	channels   int
	rate       int
	byteRate   int
	blockAlign int
	bits       int
	dataSize   uint32
}

// parsedWAV is what the test's own RIFF reader found in a file.
type parsedWAV struct {
	wavFields
	samples []int16
}

// parseWAV is an independent, generic RIFF/WAVE reader: it walks the chunk
// list (honouring pad bytes) rather than assuming the 44-byte layout, so it
// checks that the writer produces a file other readers accept.
func parseWAV(t *testing.T, b []byte) parsedWAV {
	t.Helper()
	le := binary.LittleEndian
	if len(b) < 12 || string(b[0:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		t.Fatalf("not a RIFF/WAVE file: % x", b[:min(len(b), 12)])
	}
	var p parsedWAV
	p.riffSize = le.Uint32(b[4:])
	if int(p.riffSize) != len(b)-8 {
		t.Fatalf("RIFF size %d, file is %d bytes (want size = len-8 = %d)", p.riffSize, len(b), len(b)-8)
	}
	var sawFmt, sawData bool
	for off := 12; off < len(b); {
		if off+8 > len(b) {
			t.Fatalf("truncated chunk header at %d", off)
		}
		id, size := string(b[off:off+4]), int(le.Uint32(b[off+4:]))
		body := off + 8
		if body+size > len(b) {
			t.Fatalf("chunk %q size %d overruns file of %d bytes", id, size, len(b))
		}
		switch id {
		case "fmt ":
			if size < 16 {
				t.Fatalf("fmt chunk size %d", size)
			}
			c := b[body:]
			p.format = int(le.Uint16(c[0:]))
			p.channels = int(le.Uint16(c[2:]))
			p.rate = int(le.Uint32(c[4:]))
			p.byteRate = int(le.Uint32(c[8:]))
			p.blockAlign = int(le.Uint16(c[12:]))
			p.bits = int(le.Uint16(c[14:]))
			sawFmt = true
		case "data":
			if !sawFmt {
				t.Fatal("data chunk before fmt chunk")
			}
			p.dataSize = uint32(size)
			for i := body; i+1 < body+size; i += 2 {
				p.samples = append(p.samples, int16(le.Uint16(b[i:])))
			}
			sawData = true
		}
		off = body + size + size%2 // odd chunks are followed by a pad byte
	}
	if !sawFmt || !sawData {
		t.Fatalf("fmt present %v, data present %v", sawFmt, sawData)
	}
	return p
}

// readWAV reads path through a fresh handle and parses it.
func readWAV(t *testing.T, path string) parsedWAV {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return parseWAV(t, b)
}

// tone returns frames frames of interleaved sines, one frequency per channel.
func tone(frames, rate int, freqs ...float64) []int16 {
	out := make([]int16, 0, frames*len(freqs))
	for i := range frames {
		for ch, f := range freqs {
			amp := 16000.0 / float64(ch+1)
			out = append(out, int16(math.Round(amp*math.Sin(2*math.Pi*f*float64(i)/float64(rate)))))
		}
	}
	return out
}

// writeChunked writes samples in pieces of chunk frames.
func writeChunked(t *testing.T, w *Writer, samples []int16, chunk int) {
	t.Helper()
	step := chunk * w.channels
	for len(samples) > 0 {
		n := min(step, len(samples))
		if err := w.Write(samples[:n]); err != nil {
			t.Fatalf("Write: %v", err)
		}
		samples = samples[n:]
	}
}

func TestWriteRoundTrip(t *testing.T) {
	extremes := []int16{math.MinInt16, math.MaxInt16, -1, 0, 1, math.MaxInt16, math.MinInt16, 0}
	tests := []struct {
		name     string
		channels int
		rate     int
		samples  []int16
		chunk    int // frames per Write
	}{
		{"mono 440 Hz 1 s in 20 ms writes", 1, 8000, tone(8000, 8000, 440), 160},
		{"mono 440 Hz 1 s in one write", 1, 8000, tone(8000, 8000, 440), 8000},
		{"stereo 440/1000 Hz 1 s", 2, 8000, tone(8000, 8000, 440, 1000), 160},
		{"stereo 48 kHz 0.5 s", 2, 48000, tone(24000, 48000, 440, 1000), 960},
		{"stereo extremes", 2, 8000, extremes, 1},
		{"empty", 1, 8000, nil, 160},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "a.wav")
			w, err := Create(path, tc.channels, tc.rate)
			if err != nil {
				t.Fatal(err)
			}
			writeChunked(t, w, tc.samples, tc.chunk)
			frames := int64(len(tc.samples) / tc.channels)
			dataBytes := int64(len(tc.samples) * 2)
			if got := w.Frames(); got != frames {
				t.Errorf("Frames() = %d, want %d", got, frames)
			}
			wantDur := time.Duration(frames) * time.Second / time.Duration(tc.rate)
			if got := w.Duration(); got != wantDur {
				t.Errorf("Duration() = %v, want %v", got, wantDur)
			}
			if got := w.Bytes(); got != 44+dataBytes {
				t.Errorf("Bytes() = %d, want %d", got, 44+dataBytes)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			st, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if st.Size() != 44+dataBytes {
				t.Errorf("file size %d, want %d", st.Size(), 44+dataBytes)
			}
			p := readWAV(t, path)
			want := wavFields{
				riffSize: uint32(36 + dataBytes), format: 1, channels: tc.channels, rate: tc.rate,
				byteRate: tc.rate * tc.channels * 2, blockAlign: tc.channels * 2, bits: 16,
				dataSize: uint32(dataBytes),
			}
			if got := p.wavFields; got != want {
				t.Errorf("header = %+v, want %+v", p.wavFields, want)
			}
			if !slices.Equal(p.samples, tc.samples) {
				t.Errorf("samples differ after round trip (got %d, want %d)", len(p.samples), len(tc.samples))
			}
			ch, rate, fr, err := Info(path)
			if err != nil || ch != tc.channels || rate != tc.rate || fr != frames {
				t.Errorf("Info = %d, %d, %d, %v; want %d, %d, %d", ch, rate, fr, err, tc.channels, tc.rate, frames)
			}
		})
	}
}

func TestFlushMakesFileValidOnDisk(t *testing.T) {
	path := filepath.Join(t.TempDir(), "live.wav")
	w, err := Create(path, 1, 8000)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	audio := tone(16000, 8000, 440)

	writeChunked(t, w, audio[:4000], 160)
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	p := readWAV(t, path) // a second handle, as a player streaming the file would use
	if p.dataSize != 8000 || !slices.Equal(p.samples, audio[:4000]) {
		t.Fatalf("after first Flush: data size %d with %d samples, want 8000 bytes of the first 4000 samples",
			p.dataSize, len(p.samples))
	}

	// Less than the buffer: nothing new reaches the file until Flush.
	writeChunked(t, w, audio[4000:5000], 160)
	if p := readWAV(t, path); p.dataSize != 8000 {
		t.Fatalf("unflushed write changed data size to %d", p.dataSize)
	}
	writeChunked(t, w, audio[5000:], 160)
	if err := w.Sync(); err != nil {
		t.Fatal(err)
	}
	p = readWAV(t, path)
	if p.dataSize != 32000 || !slices.Equal(p.samples, audio) {
		t.Fatalf("after Sync: data size %d with %d samples, want 32000 bytes of all 16000", p.dataSize, len(p.samples))
	}
	// A second Flush with nothing new leaves the file as it is.
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(path); err != nil || st.Size() != 44+32000 {
		t.Fatalf("stat after idle Flush: %v, %v", st, err)
	}
}

func TestCreate(t *testing.T) {
	tests := []struct {
		channels, rate int
		ok             bool
	}{
		{1, 8000, true},
		{2, 48000, true},
		{1, 16000, true},
		{0, 8000, false},
		{3, 8000, false},
		{1, 7999, false},
		{2, 48001, false},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%dch_%dHz", tc.channels, tc.rate), func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "calls", "2024", "x.wav")
			w, err := Create(path, tc.channels, tc.rate)
			if !tc.ok {
				if err == nil {
					w.Close()
					t.Fatal("Create accepted invalid format")
				}
				if _, serr := os.Stat(path); !errors.Is(serr, os.ErrNotExist) {
					t.Fatalf("invalid Create left a file behind: %v", serr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			st, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if st.Mode().Perm() != 0o600 {
				t.Errorf("file mode %v, want 0600", st.Mode().Perm())
			}
			if st.Size() != 44 {
				t.Errorf("fresh file is %d bytes, want the 44-byte header", st.Size())
			}
			for _, d := range []string{filepath.Join(dir, "calls"), filepath.Dir(path)} {
				dst, err := os.Stat(d)
				if err != nil {
					t.Fatal(err)
				}
				if perm := dst.Mode().Perm(); perm&^0o750 != 0 {
					t.Errorf("dir %s mode %v grants more than 0750", d, perm)
				}
			}
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			le := binary.LittleEndian
			if le.Uint32(b[4:]) != 0 || le.Uint32(b[40:]) != 0 || string(b[36:40]) != "data" {
				t.Errorf("provisional header sizes %d/%d, want 0/0", le.Uint32(b[4:]), le.Uint32(b[40:]))
			}
		})
	}
}

func TestCreateTruncatesExisting(t *testing.T) {
	path := filepath.Join(t.TempDir(), "old.wav")
	if err := os.WriteFile(path, make([]byte, 5000), 0o600); err != nil {
		t.Fatal(err)
	}
	w, err := Create(path, 1, 8000)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write([]int16{7, 8}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if p := readWAV(t, path); !slices.Equal(p.samples, []int16{7, 8}) {
		t.Fatalf("samples %v, want [7 8]", p.samples)
	}
}

func TestWriteRejectsPartialFrame(t *testing.T) {
	w, err := Create(filepath.Join(t.TempDir(), "s.wav"), 2, 8000)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := w.Write([]int16{1, 2, 3}); err == nil {
		t.Fatal("Write of 3 samples to a stereo file succeeded")
	}
	if w.Frames() != 0 {
		t.Fatalf("Frames() = %d after rejected write", w.Frames())
	}
	if err := w.Write([]int16{1, 2}); err != nil {
		t.Fatalf("writer unusable after a rejected write: %v", err)
	}
}

func TestWriteSizeLimit(t *testing.T) {
	if got, want := maxDataSize(2), int64(math.MaxUint32-36-1); got != want {
		t.Errorf("maxDataSize(2) = %d, want %d", got, want)
	}
	if got := maxDataSize(4); got%4 != 0 || got+36 > math.MaxUint32 || got+36+4 <= math.MaxUint32 {
		t.Errorf("maxDataSize(4) = %d is not the largest whole-frame size that fits", got)
	}
	w, err := Create(filepath.Join(t.TempDir(), "big.wav"), 1, 8000)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	w.maxData = 1000 // test hook: pretend the 4 GiB limit is 1000 bytes away
	if err := w.Write(make([]int16, 501)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Write past the limit: %v, want ErrTooLarge", err)
	}
	if w.Frames() != 0 {
		t.Fatalf("rejected write counted %d frames", w.Frames())
	}
	if err := w.Write(make([]int16, 500)); err != nil {
		t.Fatalf("Write up to the limit: %v", err)
	}
}

func TestTruncate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vm.wav")
	w, err := Create(path, 2, 8000)
	if err != nil {
		t.Fatal(err)
	}
	audio := tone(8000, 8000, 440, 1000)
	writeChunked(t, w, audio, 160) // 32000 bytes: part flushed by bufio, part buffered

	if err := w.Truncate(8001); err == nil {
		t.Error("Truncate beyond Frames() succeeded")
	}
	if err := w.Truncate(-1); err == nil {
		t.Error("Truncate(-1) succeeded")
	}
	if err := w.Truncate(3000); err != nil {
		t.Fatal(err)
	}
	if w.Frames() != 3000 || w.Bytes() != 44+12000 {
		t.Fatalf("after Truncate: Frames %d Bytes %d, want 3000 and %d", w.Frames(), w.Bytes(), 44+12000)
	}
	// The file on disk is already a valid WAV of the kept audio.
	if p := readWAV(t, path); !slices.Equal(p.samples, audio[:6000]) {
		t.Fatalf("on disk after Truncate: %d samples, want the first 6000", len(p.samples))
	}
	tail := []int16{11, -11, 22, -22}
	if err := w.Write(tail); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	p := readWAV(t, path)
	want := append(slices.Clone(audio[:6000]), tail...)
	if !slices.Equal(p.samples, want) {
		t.Fatalf("after Truncate+Write: %d samples, want %d (kept audio then the new frames, no gap)",
			len(p.samples), len(want))
	}
	if err := w.Truncate(0); !errors.Is(err, ErrClosed) {
		t.Fatalf("Truncate after Close: %v, want ErrClosed", err)
	}
}

func TestAbortRemovesFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "short.wav")
	w, err := Create(path, 1, 8000)
	if err != nil {
		t.Fatal(err)
	}
	writeChunked(t, w, tone(20000, 8000, 440), 160)
	if err := w.Abort(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("file still there after Abort: %v", err)
	}
	if err := w.Write([]int16{1}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Write after Abort: %v, want ErrClosed", err)
	}
	if err := w.Abort(); !errors.Is(err, ErrClosed) {
		t.Fatalf("second Abort: %v, want ErrClosed", err)
	}
}

func TestAfterClose(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.wav")
	w, err := Create(path, 1, 8000)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write([]int16{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("second Close: %v, want nil (idempotent)", err)
	}
	for name, op := range map[string]func() error{
		"Write": func() error { return w.Write([]int16{1}) },
		"Flush": w.Flush,
		"Sync":  w.Sync,
		"Abort": w.Abort,
	} {
		if err := op(); !errors.Is(err, ErrClosed) {
			t.Errorf("%s after Close: %v, want ErrClosed", name, err)
		}
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("Abort after Close removed the closed file: %v", err)
	}
	if w.Frames() != 3 {
		t.Errorf("Frames() after Close = %d, want 3", w.Frames())
	}
}

func TestConcurrentWriteAndFlush(t *testing.T) {
	path := filepath.Join(t.TempDir(), "race.wav")
	w, err := Create(path, 2, 8000)
	if err != nil {
		t.Fatal(err)
	}
	audio := tone(8000, 8000, 440, 1000)
	done := make(chan error, 1)
	go func() {
		for s := audio; len(s) > 0; s = s[320:] {
			if err := w.Write(s[:320]); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	// Flush the way a recorder's ticker would, until the writer finishes.
	for finished := false; !finished; {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			finished = true
		default:
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
			if f := w.Frames(); f < 0 || f > 8000 {
				t.Fatalf("Frames() = %d mid-write", f)
			}
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if p := readWAV(t, path); !slices.Equal(p.samples, audio) {
		t.Fatalf("concurrent flushes corrupted audio: %d samples, want %d", len(p.samples), len(audio))
	}
}

func TestWriteDoesNotAllocate(t *testing.T) {
	w, err := Create(filepath.Join(t.TempDir(), "a.wav"), 1, 8000)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	frame := tone(160, 8000, 440)
	big := tone(5000, 8000, 440) // larger than the encode buffer
	if n := testing.AllocsPerRun(200, func() {
		if err := w.Write(frame); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("Write of 160 samples: %v allocs, want 0", n)
	}
	if n := testing.AllocsPerRun(20, func() {
		if err := w.Write(big); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("Write of 5000 samples: %v allocs, want 0", n)
	}
	if n := testing.AllocsPerRun(20, func() {
		if err := w.Write(frame); err != nil {
			t.Fatal(err)
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("Write+Flush: %v allocs, want 0", n)
	}
}

func BenchmarkWrite(b *testing.B) {
	w, err := Create(filepath.Join(b.TempDir(), "bench.wav"), 1, 8000)
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	frame := tone(160, 8000, 440) // 20 ms at 8 kHz, one RTP packet's worth
	b.SetBytes(int64(len(frame) * 2))
	b.ReportAllocs()
	for b.Loop() {
		if err := w.Write(frame); err != nil {
			b.Fatal(err)
		}
		// Keep the file to a minute of audio so long runs stay far from the
		// 4 GiB WAV limit and do not fill the disk.
		if w.Frames() >= 60*8000 {
			if err := w.Truncate(0); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// TestBufferSize: a bigger buffer holds audio until Flush (one write), the
// default one lets it reach the file in pieces; both end up whole.
func TestBufferSize(t *testing.T) {
	audio := make([]int16, 15000) // 30,000 bytes of mono audio
	for i := range audio {
		audio[i] = int16(i)
	}
	tests := []struct {
		name    string
		opts    []Option
		minDisk int64 // audio bytes on disk before Flush, at least
		maxDisk int64 // and at most
	}{
		{"default 8 KiB", nil, 30000 - defaultBuffer, 30000},
		{"32 KiB holds it all", []Option{BufferSize(32000)}, 0, 0},
		{"below the minimum is 4 KiB", []Option{BufferSize(1)}, 30000 - minBuffer, 30000},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "a.wav")
			w, err := Create(path, 1, 8000, tc.opts...)
			if err != nil {
				t.Fatal(err)
			}
			for off := 0; off < len(audio); off += 160 {
				if err := w.Write(audio[off:min(off+160, len(audio))]); err != nil {
					t.Fatal(err)
				}
			}
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if onDisk := fi.Size() - headerSize; onDisk < tc.minDisk || onDisk > tc.maxDisk {
				t.Fatalf("%d audio bytes on disk before Flush, want %d..%d", onDisk, tc.minDisk, tc.maxDisk)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if fi, err := os.Stat(path); err != nil || fi.Size() != headerSize+30000 {
				t.Fatalf("after Close: %v, %v; want %d bytes", fi.Size(), err, headerSize+30000)
			}
		})
	}
}
