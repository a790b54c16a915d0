// Media: the WebRTC peer connection of a call, the ringer, key tones and the
// analyser tests use to check what audio arrives.

/**
 * getUserMedia constraints for the microphone. The browser's voice processing
 * is off because it squashes steady tones (DTMF-like prompts, the test tone);
 * agents are expected to wear a headset. Change it here, and only here.
 */
export const AUDIO_CONSTRAINTS = Object.freeze({
  audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false },
});

/** How long to wait for ICE gathering before sending the offer anyway. */
export const ICE_GATHER_TIMEOUT_MS = 2000;

let sharedContext = null;

/**
 * The page's one AudioContext, created on first use. Browsers start it
 * suspended unless a user gesture preceded it, so callers resume it from
 * click handlers via unlockAudio.
 */
export function audioContext() {
  if (!sharedContext) {
    const Ctx = window.AudioContext || window.webkitAudioContext;
    if (!Ctx) return null;
    sharedContext = new Ctx();
  }
  return sharedContext;
}

/** Resumes the AudioContext; call it from a user gesture (click, key). */
export function unlockAudio() {
  const ctx = audioContext();
  if (ctx && ctx.state === 'suspended') ctx.resume().catch(() => {});
}

/**
 * Ringer plays the ring for incoming calls: bursts of a tone alternating
 * between 440 and 480 Hz (the two components of the North American ring,
 * played as a warble so it is noticeable even on small speakers), one second
 * on and two off.
 */
export class Ringer {
  constructor() {
    this.osc = null;
    this.gain = null;
    this.timer = 0;
  }

  get playing() {
    return this.osc !== null;
  }

  start() {
    if (this.osc) return;
    const ctx = audioContext();
    if (!ctx) return;
    this.gain = ctx.createGain();
    this.gain.gain.value = 0;
    this.gain.connect(ctx.destination);
    this.osc = ctx.createOscillator();
    this.osc.type = 'sine';
    this.osc.connect(this.gain);
    this.osc.start();
    // Schedule one 3 s cycle at a time, a little ahead of the clock, so a
    // stop never leaves a long tail of scheduled sound behind.
    const cycle = () => {
      if (!this.osc) return;
      const t0 = ctx.currentTime + 0.05;
      const f = this.osc.frequency;
      const g = this.gain.gain;
      for (let i = 0; i < 20; i++) f.setValueAtTime(i % 2 ? 480 : 440, t0 + i * 0.05);
      g.setValueAtTime(0, t0);
      g.linearRampToValueAtTime(0.12, t0 + 0.02);
      g.setValueAtTime(0.12, t0 + 0.98);
      g.linearRampToValueAtTime(0, t0 + 1.0);
      this.timer = setTimeout(cycle, 3000);
    };
    cycle();
  }

  stop() {
    clearTimeout(this.timer);
    if (!this.osc) return;
    try {
      this.osc.stop();
    } catch {
      // already stopped
    }
    this.osc.disconnect();
    this.gain.disconnect();
    this.osc = null;
    this.gain = null;
  }
}

// DTMF frequency pairs (ITU-T Q.23) for local key feedback.
const DTMF_FREQS = {
  1: [697, 1209], 2: [697, 1336], 3: [697, 1477], A: [697, 1633],
  4: [770, 1209], 5: [770, 1336], 6: [770, 1477], B: [770, 1633],
  7: [852, 1209], 8: [852, 1336], 9: [852, 1477], C: [852, 1633],
  '*': [941, 1209], 0: [941, 1336], '#': [941, 1477], D: [941, 1633],
};

/** Plays a short, quiet DTMF tone locally so a key press is heard. */
export function playKeyTone(key) {
  const pair = DTMF_FREQS[key];
  const ctx = audioContext();
  if (!pair || !ctx) return;
  const gain = ctx.createGain();
  const t0 = ctx.currentTime;
  gain.gain.setValueAtTime(0.05, t0);
  gain.gain.setValueAtTime(0, t0 + 0.12);
  gain.connect(ctx.destination);
  for (const hz of pair) {
    const osc = ctx.createOscillator();
    osc.frequency.value = hz;
    osc.connect(gain);
    osc.start(t0);
    osc.stop(t0 + 0.13);
    osc.onended = () => osc.disconnect();
  }
  setTimeout(() => gain.disconnect(), 300);
}

/**
 * Creates an AnalyserNode fed by stream. It is not connected to the speakers
 * (the <audio> element plays the call); Chrome only pulls audio from a remote
 * WebRTC stream into WebAudio while a media element also plays it.
 */
export function createAnalyser(stream) {
  const ctx = audioContext();
  if (!ctx) return null;
  const analyser = ctx.createAnalyser();
  analyser.fftSize = 4096;
  analyser.smoothingTimeConstant = 0.2;
  ctx.createMediaStreamSource(stream).connect(analyser);
  return analyser;
}

/**
 * The frequency in Hz of the strongest FFT bin of analyser, or 0 when it is
 * silent (every bin below -100 dBFS).
 */
export function dominantFrequency(analyser) {
  if (!analyser) return 0;
  const bins = new Float32Array(analyser.frequencyBinCount);
  analyser.getFloatFrequencyData(bins);
  let best = -1;
  let bestDb = -100;
  for (let i = 1; i < bins.length; i++) {
    if (bins[i] > bestDb) {
      bestDb = bins[i];
      best = i;
    }
  }
  return best < 0 ? 0 : (best * analyser.context.sampleRate) / analyser.fftSize;
}

/** A microphone error the user can act on, with a readable message. */
export class MicrophoneError extends Error {}

/**
 * CallMedia is the WebRTC side of one call: the microphone, the peer
 * connection, and ICE. The browser always makes the offer (both for `answer`
 * and `dial`); the gateway answers.
 */
export class CallMedia {
  /**
   * @param {object} opts
   * @param {RTCIceServer[]} [opts.iceServers]
   * @param {(stream: MediaStream) => void} [opts.onTrack] remote audio arrived
   * @param {(candidate: object|null) => void} [opts.onCandidate] a candidate
   *   gathered after the offer was handed out (null: gathering finished)
   * @param {(state: string) => void} [opts.onConnectionState]
   */
  constructor({ iceServers = [], onTrack, onCandidate, onConnectionState } = {}) {
    this.iceServers = iceServers;
    this.onTrack = onTrack || (() => {});
    this.onCandidate = onCandidate || (() => {});
    this.onConnectionState = onConnectionState || (() => {});
    this.pc = null;
    this.stream = null;
    this.offerTaken = false;
    this.closed = false;
    this.remoteCandidates = [];
  }

  /**
   * Opens the microphone, creates the peer connection and returns the SDP
   * offer once ICE gathering completes or ICE_GATHER_TIMEOUT_MS passes;
   * candidates found later go to onCandidate (trickle ICE).
   */
  async createOffer() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      throw new MicrophoneError(
        'This page cannot use the microphone: open it over HTTPS (or on localhost).');
    }
    try {
      this.stream = await navigator.mediaDevices.getUserMedia(AUDIO_CONSTRAINTS);
    } catch (err) {
      const denied = err && (err.name === 'NotAllowedError' || err.name === 'SecurityError');
      throw new MicrophoneError(denied
        ? 'Microphone access was blocked. Allow it in the browser to take calls.'
        : `No usable microphone (${err && err.message ? err.message : err}).`);
    }
    if (this.closed) throw new Error('call ended');

    const pc = new RTCPeerConnection({ iceServers: this.iceServers });
    this.pc = pc;
    for (const track of this.stream.getAudioTracks()) pc.addTrack(track, this.stream);
    pc.ontrack = (ev) => {
      const stream = ev.streams && ev.streams[0] ? ev.streams[0] : new MediaStream([ev.track]);
      this.onTrack(stream);
    };
    pc.onconnectionstatechange = () => this.onConnectionState(pc.connectionState);
    pc.onicecandidate = (ev) => {
      // Before the offer is handed out, candidates end up in
      // localDescription.sdp; only later ones need trickling. An empty
      // candidate string is the legacy end-of-candidates marker.
      if (!this.offerTaken) return;
      const c = ev.candidate;
      this.onCandidate(c && c.candidate ? c.toJSON() : null);
    };

    const offer = await pc.createOffer();
    await pc.setLocalDescription(offer);
    await waitForGathering(pc, ICE_GATHER_TIMEOUT_MS);
    if (this.closed) throw new Error('call ended');
    this.offerTaken = true;
    return pc.localDescription.sdp;
  }

  /** Applies the gateway's SDP answer, then any candidates that came early. */
  async acceptAnswer(sdp) {
    if (!this.pc || this.closed) return;
    await this.pc.setRemoteDescription({ type: 'answer', sdp });
    const early = this.remoteCandidates;
    this.remoteCandidates = [];
    for (const c of early) await this.addCandidate(c);
  }

  /** Adds a candidate the gateway trickled; null ends its candidates. */
  async addCandidate(candidate) {
    if (!this.pc || this.closed) return;
    if (!this.pc.remoteDescription) {
      this.remoteCandidates.push(candidate);
      return;
    }
    try {
      await this.pc.addIceCandidate(candidate || undefined);
    } catch (err) {
      console.warn('switchboard: ignoring ICE candidate', err);
    }
  }

  /** Mutes or unmutes the microphone track (the peer keeps sending silence). */
  setMuted(muted) {
    if (!this.stream) return;
    for (const t of this.stream.getAudioTracks()) t.enabled = !muted;
  }

  /**
   * Sends one DTMF digit in-band as RFC 4733 events through the audio
   * sender, when the browser and the negotiated SDP allow it. Returns whether
   * it did.
   */
  insertDTMF(digit) {
    if (!this.pc) return false;
    const sender = this.pc.getSenders().find((s) => s.track && s.track.kind === 'audio');
    const dtmf = sender && sender.dtmf;
    if (!dtmf || ('canInsertDTMF' in dtmf && !dtmf.canInsertDTMF)) return false;
    try {
      // 100 ms tones with 70 ms gaps, the usual RFC 4733 timing.
      dtmf.insertDTMF(digit, 100, 70);
      return true;
    } catch (err) {
      // InvalidStateError while the sender is not sending (e.g. held).
      return false;
    }
  }

  /** Stops the microphone and closes the peer connection. */
  close() {
    this.closed = true;
    if (this.stream) for (const t of this.stream.getTracks()) t.stop();
    if (this.pc) {
      this.pc.ontrack = this.pc.onicecandidate = this.pc.onconnectionstatechange = null;
      this.pc.close();
    }
    this.stream = null;
  }
}

/** Resolves when pc finishes ICE gathering or after timeoutMs, whichever is first. */
function waitForGathering(pc, timeoutMs) {
  if (pc.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      pc.removeEventListener('icegatheringstatechange', check);
      resolve();
    };
    const check = () => {
      if (pc.iceGatheringState === 'complete') done();
    };
    const timer = setTimeout(done, timeoutMs);
    pc.addEventListener('icegatheringstatechange', check);
  });
}
