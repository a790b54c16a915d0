// Package ivr produces the audio a caller hears from the switchboard itself
// rather than from another party: recording-consent announcements,
// voicemail greetings and beeps.
//
// Every source ends up as 8 kHz mono 16-bit linear PCM (the G.711 clock of
// RFC 3551 §4.5.14), which EncodeFrames then turns into 20 ms PCMU or PCMA
// payloads once per codec, so a playing leg only copies bytes:
//
//   - text-to-speech through a pluggable TTS engine (Espeak by default,
//     offline), with rendered prompts cached on disk by Cache;
//   - uploaded greetings in WAV or MP3, sniffed by content, size- and
//     duration-limited, decoded and resampled by LoadGreeting.
package ivr
