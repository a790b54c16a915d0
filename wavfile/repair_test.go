package wavfile

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// crash simulates kill -9 of the process owning w: the file descriptor goes
// away, and whatever was still in the bufio buffer is lost.
func crash(t *testing.T, w *Writer) {
	t.Helper()
	if err := w.f.Close(); err != nil {
		t.Fatal(err)
	}
}

func appendBytes(t *testing.T, path string, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func putHeaderSizes(t *testing.T, path string, riff, data uint32) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], riff)
	if _, err := f.WriteAt(b[:], 4); err != nil {
		t.Fatal(err)
	}
	binary.LittleEndian.PutUint32(b[:], data)
	if _, err := f.WriteAt(b[:], 40); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestRepairAfterCrash(t *testing.T) {
	tests := []struct {
		name     string
		channels int
		// run drives a writer of 8 kHz audio (the samples argument) and
		// then crashes it; it returns how many of those samples must
		// survive at least, and the exact count if known (-1 otherwise).
		run func(t *testing.T, w *Writer, path string, audio []int16) (atLeast, exact int)
	}{
		{
			name: "flushed then less than the buffer unflushed", channels: 1,
			run: func(t *testing.T, w *Writer, path string, audio []int16) (int, int) {
				writeChunked(t, w, audio[:8000], 160)
				if err := w.Flush(); err != nil {
					t.Fatal(err)
				}
				writeChunked(t, w, audio[8000:10400], 160) // 0.3 s, stays in the buffer
				crash(t, w)
				return 8000, 8000
			},
		},
		{
			name: "flushed then two seconds unflushed", channels: 1,
			run: func(t *testing.T, w *Writer, path string, audio []int16) (int, int) {
				writeChunked(t, w, audio[:8000], 160)
				if err := w.Flush(); err != nil {
					t.Fatal(err)
				}
				writeChunked(t, w, audio[8000:24000], 160)
				crash(t, w)
				// At most the buffer's worth of the unflushed audio is lost.
				return 24000 - defaultBuffer/2, -1
			},
		},
		{
			name: "crash before the first flush, header sizes 0", channels: 1,
			run: func(t *testing.T, w *Writer, path string, audio []int16) (int, int) {
				writeChunked(t, w, audio[:12000], 160)
				crash(t, w)
				return 12000 - defaultBuffer/2, -1
			},
		},
		{
			name: "stereo crash before the first flush", channels: 2,
			run: func(t *testing.T, w *Writer, path string, audio []int16) (int, int) {
				writeChunked(t, w, audio[:24000], 160)
				crash(t, w)
				return 24000 - defaultBuffer/2, -1
			},
		},
		{
			name: "empty file, crash right after Create", channels: 1,
			run: func(t *testing.T, w *Writer, path string, audio []int16) (int, int) {
				crash(t, w)
				return 0, 0
			},
		},
		{
			name: "mono trailing odd byte", channels: 1,
			run: func(t *testing.T, w *Writer, path string, audio []int16) (int, int) {
				writeChunked(t, w, audio[:4000], 160)
				if err := w.Flush(); err != nil {
					t.Fatal(err)
				}
				crash(t, w)
				appendBytes(t, path, []byte{0x55})
				return 4000, 4000
			},
		},
		{
			name: "stereo trailing partial frame", channels: 2,
			run: func(t *testing.T, w *Writer, path string, audio []int16) (int, int) {
				writeChunked(t, w, audio[:4000], 160)
				if err := w.Flush(); err != nil {
					t.Fatal(err)
				}
				crash(t, w)
				appendBytes(t, path, []byte{1, 2, 3}) // one sample and a half of a frame
				return 4000, 4000
			},
		},
		{
			name: "killed between data and RIFF size writes while growing", channels: 1,
			run: func(t *testing.T, w *Writer, path string, audio []int16) (int, int) {
				writeChunked(t, w, audio[:6000], 160)
				if err := w.Flush(); err != nil {
					t.Fatal(err)
				}
				crash(t, w)
				putHeaderSizes(t, path, 36+4000, 12000) // data updated, RIFF still old
				return 6000, 6000
			},
		},
		{
			name: "header claims more audio than the file holds", channels: 1,
			run: func(t *testing.T, w *Writer, path string, audio []int16) (int, int) {
				writeChunked(t, w, audio[:6000], 160)
				if err := w.Flush(); err != nil {
					t.Fatal(err)
				}
				crash(t, w)
				putHeaderSizes(t, path, 36+12000, 90000) // e.g. a Truncate cut short
				return 6000, 6000
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "call.wav")
			w, err := Create(path, tc.channels, 8000)
			if err != nil {
				t.Fatal(err)
			}
			freqs := []float64{440, 1000}[:tc.channels]
			audio := tone(32000, 8000, freqs...)
			atLeast, exact := tc.run(t, w, path, audio)

			dur, err := Repair(path)
			if err != nil {
				t.Fatalf("Repair: %v", err)
			}
			p := readWAV(t, path) // also checks RIFF size == file size - 8
			n := len(p.samples)
			if int(p.dataSize) != n*2 || n%tc.channels != 0 {
				t.Fatalf("data size %d for %d samples of %d channels", p.dataSize, n, tc.channels)
			}
			if n < atLeast || (exact >= 0 && n != exact) {
				t.Fatalf("%d samples survived, want at least %d (exactly %d if >= 0)", n, atLeast, exact)
			}
			if !slices.Equal(p.samples, audio[:n]) {
				t.Fatal("repaired audio is not a prefix of what was written")
			}
			if want := time.Duration(n/tc.channels) * time.Second / 8000; dur != want {
				t.Fatalf("Repair duration %v, want %v", dur, want)
			}
			if ch, rate, fr, err := Info(path); err != nil || ch != tc.channels || rate != 8000 || fr != int64(n/tc.channels) {
				t.Fatalf("Info after repair = %d, %d, %d, %v", ch, rate, fr, err)
			}

			// A repaired file is fine: a second Repair changes nothing.
			before, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			dur2, err := Repair(path)
			if err != nil || dur2 != dur {
				t.Fatalf("second Repair = %v, %v; want %v, nil", dur2, err, dur)
			}
			after, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(before, after) {
				t.Fatal("second Repair modified a valid file")
			}
		})
	}
}

func TestRepairLeavesClosedFileUnchanged(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ok.wav")
	w, err := Create(path, 2, 16000)
	if err != nil {
		t.Fatal(err)
	}
	writeChunked(t, w, tone(16000, 16000, 440, 1000), 320)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dur, err := Repair(path)
	if err != nil || dur != time.Second {
		t.Fatalf("Repair = %v, %v; want 1s, nil", dur, err)
	}
	after, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	st2, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) || !st2.ModTime().Equal(st.ModTime()) {
		t.Fatal("Repair rewrote a valid file")
	}
}

// canonical returns a valid canonical mono 8 kHz header for data bytes.
func canonical(data uint32) []byte {
	h := encodeHeader(1, 8000, 36+data, data)
	return h[:]
}

func TestRepairRefusesForeignFiles(t *testing.T) {
	audio := make([]byte, 800)
	for i := range audio {
		audio[i] = byte(i)
	}
	le := binary.LittleEndian

	// A WAV with a LIST chunk between fmt and data, as many tools write.
	withList := append([]byte(nil), canonical(0)[:36]...)
	list := append([]byte("LIST"), 0, 0, 0, 0)
	list = append(list, []byte("INFOISFT\x06\x00\x00\x00Lavf\x00\x00")...)
	le.PutUint32(list[4:], uint32(len(list)-8))
	withList = append(withList, list...)
	withList = append(withList, []byte("data")...)
	withList = le.AppendUint32(withList, uint32(len(audio)))
	withList = append(withList, audio...)
	le.PutUint32(withList[4:], uint32(len(withList)-8))

	// Canonical start but a LIST chunk after the audio: RIFF size > 36+data.
	trailingList := append(append(canonical(uint32(len(audio))), audio...), list...)
	le.PutUint32(trailingList[4:], uint32(len(trailingList)-8))

	mutate := func(off int, v uint16) []byte {
		b := append(canonical(uint32(len(audio))), audio...)
		le.PutUint16(b[off:], v)
		return b
	}

	tests := []struct {
		name string
		data []byte
	}{
		{"text file", []byte("voicemail for alice\nthis is not audio, just a note that is longer than forty-four bytes\n")},
		{"LIST chunk before data", withList},
		{"LIST chunk after data", trailingList},
		{"shorter than a header", canonical(0)[:30]},
		{"empty file", nil},
		{"8-bit samples", mutate(34, 8)},
		{"mu-law format", mutate(20, 7)},
		{"three channels", mutate(22, 3)},
		{"wrong block align", mutate(32, 4)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "foreign.wav")
			if err := os.WriteFile(path, tc.data, 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := Repair(path); !errors.Is(err, ErrNotWAV) {
				t.Fatalf("Repair: %v, want ErrNotWAV", err)
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, tc.data) {
				t.Fatal("Repair modified a file it refused")
			}
		})
	}
	t.Run("Info", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "foreign.wav")
		if err := os.WriteFile(path, withList, 0o600); err != nil {
			t.Fatal(err)
		}
		if _, _, _, err := Info(path); !errors.Is(err, ErrNotWAV) {
			t.Fatalf("Info: %v, want ErrNotWAV", err)
		}
	})
}

func TestRepairMissingFile(t *testing.T) {
	_, err := Repair(filepath.Join(t.TempDir(), "nope.wav"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Repair of a missing file: %v, want os.ErrNotExist", err)
	}
}

func TestInfoClampsToFileSize(t *testing.T) {
	tests := []struct {
		name       string
		headerData uint32
		audio      int
		wantFrames int64
	}{
		{"header matches", 1600, 1600, 800},
		{"header behind (crashed writer)", 800, 1600, 400},
		{"header ahead of the file", 90000, 1600, 800},
		{"odd trailing byte", 90000, 1601, 800},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "i.wav")
			b := append(canonical(tc.headerData), make([]byte, tc.audio)...)
			if err := os.WriteFile(path, b, 0o600); err != nil {
				t.Fatal(err)
			}
			ch, rate, frames, err := Info(path)
			if err != nil || ch != 1 || rate != 8000 || frames != tc.wantFrames {
				t.Fatalf("Info = %d, %d, %d, %v; want 1, 8000, %d, nil", ch, rate, frames, err, tc.wantFrames)
			}
		})
	}
}
