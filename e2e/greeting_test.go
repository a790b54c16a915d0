package e2e

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"mime/multipart"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"switchboard/internal/testaudio"
	"switchboard/media"
)

// Paths of our number's greetings; the "+" is escaped as a client must.
const (
	grInHoursPath    = "/api/numbers/%2B15550100/greetings/in_hours"
	grAfterHoursPath = "/api/numbers/%2B15550100/greetings/after_hours"
)

// grVoicemailNumbers configures +15550100 (voicemailNumber: nobody to
// ring, so every call goes to voicemail at once) with a short voicemail box
// whose configured in-hours greeting is the TTS text greeting; an uploaded
// greeting replaces it.
func grVoicemailNumbers(greeting string) string {
	return voicemailNumber(fmt.Sprintf("{ enabled: true, max_length: 10s, silence_timeout: 2s, in_hours: { tts: %q } }", greeting))
}

// grDo sends one API request like gateway.api, for the two things api
// cannot do: a request without the bearer token (auth false), and a
// streamed body (an io.Reader of unknown length goes out chunked, with no
// Content-Length). An empty contentType sends none.
func grDo(t *testing.T, g *gateway, method, path, contentType string, body io.Reader, auth bool) apiReply {
	t.Helper()
	req, err := http.NewRequest(method, g.httpBase+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if auth {
		req.Header.Set("Authorization", "Bearer "+g.apiToken)
	}
	client := &http.Client{Timeout: 30 * time.Second}
	res, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", method, path, err)
	}
	return apiReply{Status: res.StatusCode, Header: res.Header, Body: b}
}

// grErrorMessage returns the "error" field of a JSON error body, or ""
// when the body is not one.
func grErrorMessage(body []byte) string {
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(body, &e) != nil {
		return ""
	}
	return e.Error
}

// grMultipart wraps content as the "file" field of a multipart/form-data
// body, as a browser's file input sends it.
func grMultipart(t *testing.T, filename string, content []byte) (contentType string, body []byte) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	part, err := mw.CreateFormFile("file", filename)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := part.Write(content); err != nil {
		t.Fatal(err)
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	return mw.FormDataContentType(), buf.Bytes()
}

// grUploaded mirrors the greeting JSON of PUT .../greetings/{kind}.
type grUploaded struct {
	Number          string  `json:"number"`
	Kind            string  `json:"kind"`
	File            string  `json:"file"`
	OriginalName    string  `json:"original_name"`
	DurationSeconds float64 `json:"duration_seconds"`
	UploadedBy      string  `json:"uploaded_by"`
}

// grUpload PUTs a greeting and insists on 201, returning its record.
func grUpload(t *testing.T, g *gateway, path, contentType string, body []byte) grUploaded {
	t.Helper()
	res := g.api(t, http.MethodPut, path, body, http.Header{"Content-Type": {contentType}})
	if res.Status != http.StatusCreated {
		t.Fatalf("PUT %s: %d %s, want 201", path, res.Status, res.Body)
	}
	var up grUploaded
	if err := json.Unmarshal(res.Body, &up); err != nil {
		t.Fatalf("PUT %s: 201 body is not the greeting JSON (%v): %s", path, err, res.Body)
	}
	t.Logf("PUT %s: 201 %s (Location %s)", path, bytes.Join(bytes.Fields(res.Body), nil), res.Header.Get("Location"))
	return up
}

// grGreetingWAV downloads a stored greeting and decodes it, insisting on
// 200 audio/wav, 8 kHz 16-bit mono: the form every greeting is played in.
func grGreetingWAV(t *testing.T, g *gateway, path string) wavAudio {
	t.Helper()
	res := g.api(t, http.MethodGet, path, nil, nil)
	if res.Status != http.StatusOK || res.Header.Get("Content-Type") != "audio/wav" {
		t.Fatalf("GET %s: %d, Content-Type %q, want 200 audio/wav: %.200s", path, res.Status, res.Header.Get("Content-Type"), res.Body)
	}
	w, err := decodeWAVBytes(res.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	if w.Rate != media.ClockRate || w.Channels != 1 || w.Bits != 16 {
		t.Errorf("GET %s: %d Hz, %d channel(s), %d bits; want 8000 Hz mono 16-bit", path, w.Rate, w.Channels, w.Bits)
	}
	return w
}

// grEncodeWAV returns 16-bit mono PCM samples at rate Hz as a canonical
// RIFF/WAVE file (44-byte header), as an audio editor saves one.
func grEncodeWAV(samples []int16, rate int) []byte {
	var b bytes.Buffer
	le := binary.LittleEndian
	dataLen := 2 * len(samples)
	b.WriteString("RIFF")
	_ = binary.Write(&b, le, uint32(36+dataLen))
	b.WriteString("WAVEfmt ")
	_ = binary.Write(&b, le, uint32(16))     // fmt chunk size
	_ = binary.Write(&b, le, uint16(1))      // WAVE_FORMAT_PCM
	_ = binary.Write(&b, le, uint16(1))      // mono
	_ = binary.Write(&b, le, uint32(rate))   // sample rate
	_ = binary.Write(&b, le, uint32(2*rate)) // byte rate
	_ = binary.Write(&b, le, uint16(2))      // block align
	_ = binary.Write(&b, le, uint16(16))     // bits per sample
	b.WriteString("data")
	_ = binary.Write(&b, le, uint32(dataLen))
	_ = binary.Write(&b, le, samples)
	return b.Bytes()
}

// grHearGreeting calls our number, which goes to voicemail, and returns
// the first d of audio the caller received (the greeting, the beep and the
// recording's silence after it). The caller hangs up before it returns.
func grHearGreeting(t *testing.T, g *gateway, d time.Duration) []int16 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d+15*time.Second)
	defer cancel()
	c := dialVoicemail(ctx, t, g)
	need := framesFor(d)
	err := c.peer.awaitFrames(ctx, func(fs []audioFrame) bool { return len(fs) >= need })
	c.hangUp(ctx, t)
	frames := c.peer.frames()
	if err != nil {
		t.Fatalf("the caller received %d frames of audio, want %d (%s): %v", len(frames), need, d, err)
	}
	for _, a := range c.peer.received() {
		if a.Header.PayloadType != media.PayloadPCMU {
			t.Errorf("the caller received payload type %d, want PCMU (0) only", a.Header.PayloadType)
			break
		}
	}
	return joinSamples(frames[:need])
}

// grFrameLevels returns the level of freq (dBFS) in each whole 20 ms frame
// of samples. Frames line up with the gateway's packets: every packet it
// sends carries one frame.
func grFrameLevels(samples []int16, freq float64) []float64 {
	levels := make([]float64, len(samples)/frameSamples)
	for i := range levels {
		levels[i] = testaudio.ToneLevelDBFS(samples[i*frameSamples:(i+1)*frameSamples], media.ClockRate, freq)
	}
	return levels
}

// grRun returns the first run of frames at or after from whose level lies
// in [lo, hi): its first frame and the frame after its last. ok is false
// when no frame qualifies.
func grRun(levels []float64, from int, lo, hi float64) (start, end int, ok bool) {
	in := func(v float64) bool { return v >= lo && v < hi }
	for start = from; start < len(levels) && !in(levels[start]); start++ {
	}
	if start == len(levels) {
		return 0, 0, false
	}
	for end = start; end < len(levels) && in(levels[end]); end++ {
	}
	return start, end, true
}

// grToneSpec is a tone the caller must hear: freq Hz at dbfs for frames
// 20 ms frames.
type grToneSpec struct {
	name   string
	freq   float64
	dbfs   float64
	frames int
}

// grExpectGreetingThenBeep checks the audio a voicemail caller received:
// silence, then the greeting tone (within 1 dB, the G.711 quantisation
// budget, and within two frames of its length), then within 200 ms of
// silence the beep (1 kHz, -12 dBFS, 400 ms). Frames are classified by
// their level at the tone's frequency, trusted within 3 dB of the target:
// that keeps a -6 dBFS greeting and the -12 dBFS beep apart even at the
// same frequency, where findBeep's tone classifier would see one run.
func grExpectGreetingThenBeep(t *testing.T, samples []int16, greeting grToneSpec) {
	t.Helper()
	levels := grFrameLevels(samples, greeting.freq)
	gs, ge, ok := grRun(levels, 0, greeting.dbfs-3, greeting.dbfs+3)
	if !ok {
		t.Errorf("no %s (%.0f Hz at %.0f dBFS) in %d frames received; per-frame %.0f Hz levels: %s",
			greeting.name, greeting.freq, greeting.dbfs, len(levels), greeting.freq, grFormatLevels(levels))
		return
	}
	t.Logf("%s: frames %d..%d (%d ms) after %d ms of stream", greeting.name, gs, ge, 20*(ge-gs), 20*gs)
	if n := ge - gs; n < greeting.frames-2 || n > greeting.frames+2 {
		t.Errorf("%s lasted %d ms, want %d ms ± 40 ms; per-frame levels from frame %d: %s",
			greeting.name, 20*n, 20*greeting.frames, gs, grFormatLevels(levels[gs:min(len(levels), ge+5)]))
	}
	grExpectTone(t, greeting, samples[(gs+1)*frameSamples:max(gs+1, ge-1)*frameSamples])
	grExpectSilence(t, samples, max(0, gs-10), gs, "before the "+greeting.name)

	beep := grToneSpec{name: "beep", freq: beepFreq, dbfs: beepLevel, frames: beepFrames}
	beepLevels := grFrameLevels(samples, beepFreq)
	bs, be, ok := grRun(beepLevels, ge, beepLevel-3, beepLevel+3)
	if !ok {
		t.Errorf("no beep (1 kHz at -12 dBFS) after the %s; per-frame 1 kHz levels after it: %s",
			greeting.name, grFormatLevels(beepLevels[ge:]))
		return
	}
	t.Logf("beep: frames %d..%d (%d ms), %d ms after the %s", bs, be, 20*(be-bs), 20*(bs-ge), greeting.name)
	if gap := bs - ge; gap > 10 {
		t.Errorf("the beep came %d ms after the %s ended, want within 200 ms", 20*gap, greeting.name)
	}
	grExpectSilence(t, samples, ge, bs, "between the "+greeting.name+" and the beep")
	// The beep's first and last frames hold its 5 ms fades.
	if n := be - bs; n < beepFrames-1 || n > beepFrames+1 {
		t.Errorf("beep lasted %d ms, want 400 ms ± 20 ms; per-frame levels: %s",
			20*n, grFormatLevels(beepLevels[bs:min(len(beepLevels), be+3)]))
	}
	grExpectTone(t, beep, samples[(bs+1)*frameSamples:max(bs+1, be-1)*frameSamples])
}

// grExpectSilence checks that frames [from, to) of samples are silent.
func grExpectSilence(t *testing.T, samples []int16, from, to int, where string) {
	t.Helper()
	for i := from; i < to; i++ {
		if rms := testaudio.RMSDBFS(samples[i*frameSamples : (i+1)*frameSamples]); rms > speechLevel {
			t.Errorf("frame %d %s is %.1f dBFS RMS, want silence", i, where, rms)
			return
		}
	}
}

// grExpectTone checks that samples are a pure tone: the dominant frequency
// within 20 Hz and the level within 1 dB.
func grExpectTone(t *testing.T, want grToneSpec, samples []int16) {
	t.Helper()
	if len(samples) < 2*frameSamples {
		t.Errorf("%s: only %d samples to measure", want.name, len(samples))
		return
	}
	freq := testaudio.DominantFrequency(samples, media.ClockRate, 200, 3400, 10)
	level := testaudio.ToneLevelDBFS(samples, media.ClockRate, want.freq)
	rms := testaudio.RMSDBFS(samples)
	t.Logf("%s: %.0f Hz dominant, %.2f dBFS at %.0f Hz, %.2f dBFS RMS over %d ms",
		want.name, freq, level, want.freq, rms, len(samples)*1000/media.ClockRate)
	if math.Abs(freq-want.freq) > 20 {
		t.Errorf("%s: dominant frequency %.0f Hz, want %.0f Hz", want.name, freq, want.freq)
	}
	if math.Abs(level-want.dbfs) > 1 {
		t.Errorf("%s: level %.2f dBFS at %.0f Hz, want %.1f ± 1 dB", want.name, level, want.freq, want.dbfs)
	}
	// A pure sine's RMS is its peak level less 3.01 dB; much more means
	// noise or distortion rode along.
	if excess := rms - (level - 3.01); excess > 0.5 {
		t.Errorf("%s: RMS %.2f dBFS is %.2f dB above a pure tone's; the audio is distorted or noisy", want.name, rms, excess)
	}
}

// grFormatLevels renders per-frame levels compactly for failure messages.
func grFormatLevels(levels []float64) string {
	const most = 150
	var b strings.Builder
	for i, v := range levels {
		if i == most {
			fmt.Fprintf(&b, "... (%d more)", len(levels)-most)
			break
		}
		fmt.Fprintf(&b, "%.0f ", v)
	}
	return b.String()
}

// grTone renders seconds of a sine at freq Hz and dbfs, sampled at rate Hz.
func grTone(freq, dbfs float64, rate int, seconds float64) []int16 {
	return testaudio.Sine(freq, float64(rate), int(seconds*float64(rate)), testaudio.AmplitudeForDBFS(dbfs), nil)
}

// TestGreetingUploadPlaysAtLevel uploads a 44.1 kHz WAV greeting (2 s of
// 1 kHz at -6 dBFS) and calls a number nobody answers: the caller must
// hear exactly that tone, at its level and length, then the beep. That is
// only possible if the gateway decoded the WAV, resampled it to 8 kHz at
// the right ratio and encoded it for the call. An MP3 uploaded as the
// after-hours greeting is stored as an 8 kHz WAV of the same tone.
func TestGreetingUploadPlaysAtLevel(t *testing.T) {
	requireTools(t, "espeak-ng")
	g := startGateway(t, gatewayOptions{Numbers: grVoicemailNumbers("This greeting must not be heard: the upload wins.")})

	const (
		freq    = 1000.0
		dbfs    = -6.0
		seconds = 2.0
	)
	up := grUpload(t, g, grInHoursPath, "audio/wav", grEncodeWAV(grTone(freq, dbfs, 44100, seconds), 44100))
	if math.Abs(up.DurationSeconds-seconds) > 0.02 {
		t.Errorf("uploaded greeting duration_seconds = %v, want %v ± 0.02", up.DurationSeconds, seconds)
	}
	if up.Number != ourNumber || up.Kind != "in_hours" || up.UploadedBy != "alice" {
		t.Errorf("uploaded greeting = %+v, want number %s, kind in_hours, uploaded_by alice", up, ourNumber)
	}
	// The stored greeting is what callers will hear: 2 s at 8 kHz.
	if w := grGreetingWAV(t, g, grInHoursPath); math.Abs(float64(len(w.Samples))-seconds*media.ClockRate) > 8 {
		t.Errorf("stored in-hours greeting holds %d samples, want %d", len(w.Samples), int(seconds*media.ClockRate))
	}

	t.Run("mp3 after_hours", func(t *testing.T) {
		mp3, err := os.ReadFile("../ivr/testdata/tone1k_44k1_mono_-6dBFS.mp3")
		if err != nil {
			t.Fatal(err)
		}
		ct, body := grMultipart(t, "tone.mp3", mp3)
		up := grUpload(t, g, grAfterHoursPath, ct, body)
		if up.Kind != "after_hours" || up.OriginalName != "tone.mp3" {
			t.Errorf("uploaded greeting = %+v, want kind after_hours, original_name tone.mp3", up)
		}
		w := grGreetingWAV(t, g, grAfterHoursPath)
		// 1 s of tone; MP3 encoders pad a frame or two of silence.
		if d := float64(len(w.Samples)) / media.ClockRate; d < 0.95 || d > 1.15 {
			t.Errorf("stored MP3 greeting plays %.3f s, want about 1 s", d)
		}
		if len(w.Samples) > media.ClockRate/2 {
			mid := len(w.Samples) / 2
			grExpectTone(t, grToneSpec{name: "stored MP3 greeting", freq: freq, dbfs: dbfs},
				w.Samples[mid-media.ClockRate/4:mid+media.ClockRate/4])
		}
	})

	// Greeting, beep, and a second of the recording's silence.
	samples := grHearGreeting(t, g, seconds*time.Second+400*time.Millisecond+time.Second)
	grExpectGreetingThenBeep(t, samples, grToneSpec{name: "greeting", freq: freq, dbfs: dbfs, frames: framesFor(seconds * time.Second)})

	// The caller said nothing after the beep: no message, a missed call.
	rec := g.waitEndedCall(t, 10*time.Second)
	want := wantVoicemailRecord("missed")
	want.HangupSide = "caller"
	checkRecord(t, rec, want)
}

// notAudio matches the rejection message of a file that is not audio.
var notAudio = regexp.MustCompile(`(?i)not (an )?audio`)

// TestGreetingUploadRejected: uploads the gateway cannot take (too large,
// not audio, unknown number, no token) are refused with a status and a
// message that says why, and leave the greeting in place, byte for byte,
// still playing to callers.
func TestGreetingUploadRejected(t *testing.T) {
	requireTools(t, "espeak-ng")
	g := startGateway(t, gatewayOptions{Numbers: grVoicemailNumbers("This greeting must not be heard: the upload wins.")})

	// The greeting in place: 1 s of 600 Hz at -10 dBFS, uploaded at 16 kHz.
	greeting := grToneSpec{name: "kept greeting", freq: 600, dbfs: -10, frames: 50}
	grUpload(t, g, grInHoursPath+"?name=kept.wav", "application/octet-stream",
		grEncodeWAV(grTone(greeting.freq, greeting.dbfs, 16000, 1), 16000))
	before := g.api(t, http.MethodGet, grInHoursPath, nil, nil)
	if before.Status != http.StatusOK || len(before.Body) < 44 {
		t.Fatalf("GET %s: %d, %d bytes", grInHoursPath, before.Status, len(before.Body))
	}

	// 6 MB: past the 5 MB limit, however it is sent.
	big := grEncodeWAV(make([]int16, 3<<20), media.ClockRate)
	bigCT, bigMultipart := grMultipart(t, "huge.wav", big)
	fakeCT, fakeMultipart := grMultipart(t, "fake.mp3", []byte("This is a text file with an .mp3 name.\nNothing to hear here.\n"))
	// Text that starts like an MP3's ID3v2 tag gets past a sniffer that
	// looks at three bytes; the decoder must still find no audio in it.
	id3CT, id3Multipart := grMultipart(t, "fake.mp3", []byte("ID3 is how this text file starts, but it is no MP3.\n"))
	tooLarge := regexp.MustCompile(`(?i)limit is 5 MB`)
	for _, tc := range []struct {
		name        string
		path        string
		contentType string
		body        func() io.Reader
		auth        bool
		status      []int
		message     *regexp.Regexp // the JSON error must match
	}{
		{
			name: "6 MB raw", path: grInHoursPath, contentType: "audio/wav",
			body: func() io.Reader { return bytes.NewReader(big) }, auth: true,
			status: []int{http.StatusRequestEntityTooLarge}, message: tooLarge,
		},
		{
			// No Content-Length: the server must count while reading.
			name: "6 MB multipart chunked", path: grInHoursPath, contentType: bigCT,
			body: func() io.Reader { return io.MultiReader(bytes.NewReader(bigMultipart)) }, auth: true,
			status: []int{http.StatusRequestEntityTooLarge}, message: tooLarge,
		},
		{
			name: "text named fake.mp3", path: grInHoursPath, contentType: fakeCT,
			body: func() io.Reader { return bytes.NewReader(fakeMultipart) }, auth: true,
			status: []int{http.StatusUnsupportedMediaType, http.StatusUnprocessableEntity}, message: notAudio,
		},
		{
			name: "text starting with ID3 named fake.mp3", path: grInHoursPath, contentType: id3CT,
			body: func() io.Reader { return bytes.NewReader(id3Multipart) }, auth: true,
			status: []int{http.StatusUnsupportedMediaType, http.StatusUnprocessableEntity}, message: notAudio,
		},
		{
			name: "unknown number", path: "/api/numbers/%2B15550111/greetings/in_hours", contentType: "audio/wav",
			body: func() io.Reader { return bytes.NewReader(before.Body) }, auth: true,
			status: []int{http.StatusNotFound}, message: regexp.MustCompile(`\+15550111`),
		},
		{
			name: "no token", path: grInHoursPath, contentType: "audio/wav",
			body: func() io.Reader { return bytes.NewReader(before.Body) }, auth: false,
			status: []int{http.StatusUnauthorized}, message: regexp.MustCompile(`.`),
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := grDo(t, g, http.MethodPut, tc.path, tc.contentType, tc.body(), tc.auth)
			msg := grErrorMessage(res.Body)
			t.Logf("PUT %s: %d %s", tc.path, res.Status, bytes.Join(bytes.Fields(res.Body), []byte(" ")))
			if !slices.Contains(tc.status, res.Status) {
				t.Errorf("status %d, want one of %v", res.Status, tc.status)
			}
			if !strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
				t.Errorf("Content-Type %q, want a JSON error", res.Header.Get("Content-Type"))
			}
			if !tc.message.MatchString(msg) {
				t.Errorf("error message %q does not match %q", msg, tc.message)
			}
		})
	}

	after := g.api(t, http.MethodGet, grInHoursPath, nil, nil)
	if after.Status != http.StatusOK || !bytes.Equal(after.Body, before.Body) {
		t.Fatalf("after the rejected uploads GET %s is %d with %d bytes (identical: %v), want 200 and the %d bytes from before",
			grInHoursPath, after.Status, len(after.Body), bytes.Equal(after.Body, before.Body), len(before.Body))
	}

	// And callers still hear it.
	samples := grHearGreeting(t, g, time.Second+400*time.Millisecond+time.Second)
	grExpectGreetingThenBeep(t, samples, greeting)
}

// TestTTSPreview renders a sentence with the gateway's text-to-speech: an
// 8 kHz mono WAV of speech of a plausible length. A language name that
// could pass for an espeak-ng option is refused.
func TestTTSPreview(t *testing.T) {
	requireTools(t, "espeak-ng")
	g := startGateway(t, gatewayOptions{})
	jsonBody := http.Header{"Content-Type": {"application/json"}}

	res := g.api(t, http.MethodPost, "/api/tts/preview", []byte(`{"text":"Hello from Switchboard","language":"en-us"}`), jsonBody)
	if res.Status != http.StatusOK || res.Header.Get("Content-Type") != "audio/wav" {
		t.Fatalf("POST /api/tts/preview: %d, Content-Type %q (%d bytes), want 200 audio/wav",
			res.Status, res.Header.Get("Content-Type"), len(res.Body))
	}
	w, err := decodeWAVBytes(res.Body)
	if err != nil {
		t.Fatalf("preview: %v", err)
	}
	seconds := float64(len(w.Samples)) / float64(w.Rate)
	rms := testaudio.RMSDBFS(w.Samples)
	t.Logf("preview: %d Hz, %d channel(s), %d bits, %.2f s, %.1f dBFS RMS", w.Rate, w.Channels, w.Bits, seconds, rms)
	if w.Rate != media.ClockRate || w.Channels != 1 || w.Bits != 16 {
		t.Errorf("preview is %d Hz, %d channel(s), %d bits; want 8000 Hz mono 16-bit", w.Rate, w.Channels, w.Bits)
	}
	if seconds < 1 || seconds > 4 {
		t.Errorf("preview plays %.2f s, want 1 to 4 s for three words", seconds)
	}
	if rms <= -40 {
		t.Errorf("preview RMS %.1f dBFS, want speech above -40 dBFS", rms)
	}
	if n := countFrames(sampleFrames(w.Samples), audioFrame.speech); n < framesFor(500*time.Millisecond) {
		t.Errorf("preview holds %d frames of speech, want at least 25", n)
	}

	bad := g.api(t, http.MethodPost, "/api/tts/preview", []byte(`{"text":"Hello from Switchboard","language":"--x"}`), jsonBody)
	t.Logf(`language "--x": %d %s`, bad.Status, bytes.Join(bytes.Fields(bad.Body), []byte(" ")))
	if bad.Status != http.StatusBadRequest {
		t.Errorf(`language "--x": %d, want 400`, bad.Status)
	}
	if msg := grErrorMessage(bad.Body); !strings.Contains(strings.ToLower(msg), "language") {
		t.Errorf(`language "--x": error message %q does not say the language is wrong`, msg)
	}
}
