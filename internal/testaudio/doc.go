// Package testaudio holds signal helpers for tests anywhere in the repository:
// generating sine tones and measuring the level and frequency of audio that
// went through the switch. It is test support, not production code: nothing
// outside _test.go files should import it.
//
// Samples are signed 16-bit linear PCM. "Full scale" is 32767, so a sine of
// amplitude 32767 is a 0 dBFS tone.
package testaudio
