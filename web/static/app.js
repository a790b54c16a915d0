// Switchboard softphone: sign-in, presence, incoming and outbound calls,
// in-call controls and the recent calls list. The wire protocol is
// docs/signaling.md; media details live in media.js.

import { SignalingClient, defaultSocketURL } from './signaling.js';
import {
  CallMedia, MicrophoneError, Ringer, createAnalyser, dominantFrequency, playKeyTone, unlockAudio,
} from './media.js';

const TOKEN_KEY = 'switchboard.token';
const RECENTS_LIMIT = 20;
const RECENTS_EVERY_MS = 60000;
const NOTICE_MS = 8000;
// Call records are written when a call ends, possibly just after the tab
// hears `ended`; a second refresh picks up a record that was late.
const RECENTS_LATE_MS = 1500;
const DTMF_KEYS = /^[0-9*#]$/;

// ---------------------------------------------------------------------------
// State

const S = {
  token: sessionStorage.getItem(TOKEN_KEY),
  welcomed: false,
  connection: 'offline',
  user: null,
  numbers: [],
  iceServers: [],
  presence: 'away',
  // The availability the user chose; `presence` may say in_call on top of it.
  chosen: 'away',
  /** @type {Map<string, {msg: object, el: HTMLElement, answering: boolean}>} */
  incoming: new Map(),
  /** The one call this tab is in, or null. See newCall for its fields. */
  call: null,
  analyser: null,
};

const signal = new SignalingClient(defaultSocketURL());
const ringer = new Ringer();
let noticeTimer = 0;
let callTimer = 0;

// ---------------------------------------------------------------------------
// DOM

const $ = (id) => document.getElementById(id);
const el = {
  me: $('me'), conn: $('conn'), connText: $('conn-text'), userName: $('user-name'), userTeam: $('user-team'),
  presencePill: $('presence-pill'), presenceToggle: $('presence-toggle'), signOut: $('sign-out'),
  signin: $('signin'), signinForm: $('signin-form'), token: $('token'), signinError: $('signin-error'),
  signinStatus: $('signin-status'), signinButton: $('signin-button'),
  app: $('app'), notice: $('notice'), incomingList: $('incoming-list'), incomingTemplate: $('incoming-template'),
  call: $('call'), callAvatar: $('call-avatar'), callPeer: $('call-peer'), callDetail: $('call-detail'),
  callState: $('call-state'), callTimer: $('call-timer'), mute: $('mute'), hold: $('hold'), hangup: $('hangup'),
  dialer: $('dialer'), number: $('number'), callerId: $('caller-id'), callButton: $('call-button'),
  keypadHint: $('keypad-hint'), keys: document.querySelectorAll('.key'),
  recentsList: $('recents-list'), recentsStatus: $('recents-status'), recentsRefresh: $('recents-refresh'),
  remoteAudio: $('remote-audio'), announce: $('announce'),
};

// ---------------------------------------------------------------------------
// Test and debugging hook: window.switchboard.state is the phone's state
// ("signed_out", "connecting", "idle", "incoming", or the current call's
// state: "answering", "dialing", "ringing", "early_media", "answered",
// "held"); pc is the current RTCPeerConnection; analyser is an AnalyserNode
// on the remote audio.

window.switchboard = Object.freeze({
  get state() { return phoneState(); },
  get pc() { return S.call && S.call.media.pc ? S.call.media.pc : null; },
  get analyser() { return S.analyser; },
  get callId() { return S.call ? S.call.id : null; },
  get connection() { return S.connection; },
  get presence() { return S.presence; },
  /** The strongest frequency in the remote audio, in Hz (0: silence or no call). */
  dominantFrequency() { return dominantFrequency(S.analyser); },
});

function phoneState() {
  if (!S.token) return 'signed_out';
  if (S.call) return S.call.held && S.call.state === 'answered' ? 'held' : S.call.state;
  if (S.connection !== 'online') return 'connecting';
  return S.incoming.size > 0 ? 'incoming' : 'idle';
}

// ---------------------------------------------------------------------------
// Signaling events

signal.addEventListener('state', (ev) => {
  S.connection = ev.detail.state;
  if (S.connection === 'retrying' || S.connection === 'offline') {
    // A tab without its socket is no longer rung; its cards are stale.
    for (const id of [...S.incoming.keys()]) removeIncoming(id);
  }
  render();
});

signal.addEventListener('rejected', (ev) => {
  if (S.call) endCall(S.call, '', { tell: false });
  forgetToken();
  showSignin(`That token was not accepted (${ev.detail.reason}).`);
});

signal.addEventListener('message', (ev) => {
  const msg = ev.detail;
  switch (msg.type) {
    case 'welcome': return onWelcome(msg);
    case 'presence': return onPresence(msg);
    case 'incoming': return addIncoming(msg);
    case 'answered_elsewhere': return onRingEnded(msg.call_id, 'Answered on another device.');
    case 'cancelled': return onRingEnded(msg.call_id, missedText(msg.call_id));
    case 'call_state': return onCallState(msg);
    case 'ice':
      if (S.call && S.call.id === msg.call_id) S.call.media.addCandidate(msg.candidate);
      return undefined;
    case 'error':
      return showNotice(msg.message || `The gateway reported an error (${msg.code}).`, 'error');
    default:
      return undefined; // `ok` to a plain send, or a type this page does not use
  }
});

function onWelcome(msg) {
  const first = !S.welcomed;
  S.welcomed = true;
  S.user = msg.user || null;
  S.numbers = Array.isArray(msg.numbers) ? msg.numbers : [];
  S.iceServers = normalizeIceServers(msg.ice_servers || msg.iceServers);
  setPresence(msg.presence);
  fillCallerIds();
  if (first) {
    el.signin.hidden = true;
    el.app.hidden = false;
    el.token.value = '';
    el.number.focus();
  }
  render();
  refreshRecents();
}

function onPresence(msg) {
  if (msg.user && S.user && msg.user !== S.user.id) return;
  setPresence(msg.status);
  render();
}

function setPresence(status) {
  S.presence = status || 'away';
  // in_call sits on top of the user's choice; a user shown as in a call
  // was available before it (only available users are rung).
  if (S.presence !== 'in_call') S.chosen = S.presence;
  else if (!S.welcomed) S.chosen = 'available';
}

function onCallState(msg) {
  const call = S.call;
  if (!call || call.id !== msg.call_id) return;
  if (msg.state === 'ended') {
    endCall(call, endedText(msg.cause), { tell: false });
    return;
  }
  call.state = msg.state;
  if (msg.state === 'answered') {
    if (!call.answeredAt) call.answeredAt = Date.now();
    call.held = false;
  }
  if (msg.state === 'held') call.held = true;
  render();
}

// ---------------------------------------------------------------------------
// Incoming calls

function addIncoming(msg) {
  if (!msg.call_id || S.incoming.has(msg.call_id)) return;
  const node = el.incomingTemplate.content.firstElementChild.cloneNode(true);
  const contact = msg.contact || null;
  const name = (contact && contact.name) || msg.caller_display || msg.caller || 'Unknown caller';
  const field = (f) => node.querySelector(`[data-field="${f}"]`);
  setAvatar(field('avatar'), contact && contact.name);
  field('name').textContent = name;
  setText(field('number'), contact && contact.name ? msg.caller_display || msg.caller : '');
  setText(field('company'), contact && contact.company);
  setText(field('deal'), contact && contact.deal ? dealText(contact.deal) : '');
  const ours = msg.number_name ? `${msg.number_name} · ${msg.number || ''}` : msg.number;
  setText(field('to'), ours ? `To ${ours}` : '');
  node.dataset.callId = msg.call_id;
  node.querySelector('[data-action="answer"]').addEventListener('click', () => answer(msg.call_id));
  node.querySelector('[data-action="decline"]').addEventListener('click', () => decline(msg.call_id));
  el.incomingList.append(node);
  S.incoming.set(msg.call_id, { msg, el: node, answering: false });
  // The card does not take focus (the user may be typing); announce it.
  announce(`Incoming call from ${name}${contact && contact.company ? `, ${contact.company}` : ''}.`);
  render();
}

function removeIncoming(id) {
  const inc = S.incoming.get(id);
  if (!inc) return null;
  inc.el.remove();
  S.incoming.delete(id);
  render();
  return inc;
}

/** Another tab answered, or the caller hung up / the ring timed out. */
function onRingEnded(id, text) {
  const inc = removeIncoming(id);
  if (S.call && S.call.id === id && S.call.state === 'answering') {
    endCall(S.call, text, { tell: false });
  } else if (inc) {
    showNotice(text);
  }
}

function missedText(id) {
  const inc = S.incoming.get(id);
  if (!inc) return 'The caller hung up.';
  const c = inc.msg.contact;
  return `Missed call from ${(c && c.name) || inc.msg.caller_display || inc.msg.caller || 'an unknown number'}.`;
}

function decline(id) {
  if (!S.incoming.has(id)) return;
  signal.send({ type: 'decline', call_id: id });
  removeIncoming(id);
}

async function answer(id) {
  const inc = S.incoming.get(id);
  if (!inc || S.call) return;
  unlockAudio();
  const c = inc.msg.contact;
  inc.answering = true;
  inc.el.hidden = true;
  const call = newCall({
    id,
    direction: 'inbound',
    state: 'answering',
    peer: (c && c.name) || inc.msg.caller_display || inc.msg.caller || 'Unknown caller',
    known: Boolean(c && c.name),
    detail: [c && c.name ? inc.msg.caller_display || inc.msg.caller : '', c && c.company]
      .filter(Boolean).join(' · '),
  });
  try {
    const sdp = await call.media.createOffer();
    if (S.call !== call) return;
    const reply = signal.request(
      { type: 'answer', call_id: id, sdp },
      { match: (m) => m.type === 'answer_sdp' && m.call_id === id },
    );
    // The offer is out: from now on the card is gone for good and later
    // ICE candidates can follow it.
    removeIncoming(id);
    startTrickle(call);
    const { sdp: answerSdp } = await reply;
    if (S.call !== call) return;
    await call.media.acceptAnswer(answerSdp);
  } catch (err) {
    if (S.call !== call) return;
    endCall(call, failureText('Could not answer', err), { tell: call.trickle });
    // A microphone problem leaves the call ringing: show the card again so
    // the user can fix the permission and retry, or decline.
    const still = S.incoming.get(id);
    if (still && err instanceof MicrophoneError) {
      still.answering = false;
      still.el.hidden = false;
      render();
    } else if (still) {
      removeIncoming(id);
    }
  }
}

// ---------------------------------------------------------------------------
// Outbound calls

async function dial(to, from) {
  unlockAudio();
  const call = newCall({
    id: null,
    direction: 'outbound',
    state: 'dialing',
    peer: to,
    known: false,
    detail: `From ${numberLabel(from)}`,
  });
  try {
    const sdp = await call.media.createOffer();
    if (S.call !== call) return;
    const reply = await signal.request(
      { type: 'dial', to, from, sdp },
      // Only one dial is ever outstanding, so a dial_sdp without our id is ours.
      { match: (m) => m.type === 'dial_sdp', timeoutMs: 15000 },
    );
    call.id = reply.call_id;
    if (S.call !== call) {
      // Hung up while the gateway was setting the call up.
      signal.send({ type: 'hangup', call_id: call.id });
      return;
    }
    startTrickle(call);
    if (call.muted) signal.send({ type: 'mute', call_id: call.id, muted: true });
    await call.media.acceptAnswer(reply.sdp);
    render();
  } catch (err) {
    if (S.call !== call) return;
    endCall(call, failureText('Call failed', err), { tell: true });
  }
}

// ---------------------------------------------------------------------------
// The current call

function newCall({ id, direction, state, peer, known, detail }) {
  const call = {
    id, direction, state, peer, known, detail,
    muted: false,
    held: false,
    answeredAt: 0,
    mediaTrouble: false,
    trickle: false,
    pendingIce: [],
    media: null,
  };
  call.media = new CallMedia({
    iceServers: S.iceServers,
    onTrack: (stream) => {
      if (S.call !== call) return;
      el.remoteAudio.srcObject = stream;
      el.remoteAudio.play().catch(() => {});
      S.analyser = createAnalyser(stream);
    },
    onCandidate: (candidate) => {
      if (call.trickle && call.id) sendCandidate(call, candidate);
      else call.pendingIce.push(candidate);
    },
    onConnectionState: (st) => {
      if (S.call !== call) return;
      if (st === 'failed') {
        endCall(call, 'The audio connection failed.', { tell: true });
        return;
      }
      call.mediaTrouble = st === 'disconnected';
      render();
    },
  });
  S.call = call;
  clearInterval(callTimer);
  callTimer = setInterval(renderTimer, 1000);
  render();
  return call;
}

/** Sends the candidates gathered after the offer, once the call has an id. */
function startTrickle(call) {
  call.trickle = true;
  for (const candidate of call.pendingIce) sendCandidate(call, candidate);
  call.pendingIce = [];
}

function sendCandidate(call, candidate) {
  // As a request, so a rejected candidate is logged here instead of
  // surfacing as an error notice: ICE usually succeeds with the others.
  signal.request({ type: 'ice', call_id: call.id, candidate })
    .catch((err) => console.warn('switchboard: ICE candidate not accepted:', err.message));
}

/**
 * Tears the call down locally. With tell, the gateway hears about it too:
 * `hangup` once this tab has taken the call (its offer is out), `decline`
 * for an inbound call dropped before that. An outbound call without an id
 * yet is hung up when dial_sdp brings one (see dial).
 */
function endCall(call, text, { tell }) {
  if (S.call !== call) return;
  if (tell && call.id && call.trickle) {
    signal.send({ type: 'hangup', call_id: call.id });
  } else if (tell && call.direction === 'inbound') {
    signal.send({ type: 'decline', call_id: call.id });
    removeIncoming(call.id);
  }
  call.media.close();
  S.call = null;
  S.analyser = null;
  el.remoteAudio.srcObject = null;
  clearInterval(callTimer);
  if (text) showNotice(text, /fail|could not|lost/i.test(text) ? 'error' : 'info');
  render();
  refreshRecents();
  setTimeout(refreshRecents, RECENTS_LATE_MS);
}

function hangup() {
  if (S.call) endCall(S.call, 'Call ended.', { tell: true });
}

function toggleMute() {
  const call = S.call;
  if (!call) return;
  call.muted = !call.muted;
  call.media.setMuted(call.muted);
  // Informational for the gateway: a muted tab keeps the call up while silent.
  if (call.id && call.trickle) signal.send({ type: 'mute', call_id: call.id, muted: call.muted });
  render();
}

function toggleHold() {
  const call = S.call;
  if (!call || !call.id || !['answered', 'held'].includes(call.state)) return;
  const held = !call.held;
  call.held = held;
  render();
  signal.request({ type: 'hold', call_id: call.id, held }).catch((err) => {
    if (S.call !== call) return;
    call.held = !held;
    render();
    showNotice(failureText(held ? 'Could not hold' : 'Could not resume', err), 'error');
  });
}

function pressKey(key) {
  unlockAudio();
  const call = S.call;
  if (!call) {
    // Idle: the keypad types into the dialer.
    el.number.value += key;
    el.number.focus();
    return;
  }
  if (!call.id || !['answered', 'early_media', 'ringing', 'held'].includes(call.state)) return;
  playKeyTone(key);
  // Both paths, as the protocol asks: in-band RFC 4733 from the browser
  // when it can, and the `dtmf` message so the gateway can send the digit
  // toward the phone side even when the browser's events do not reach it.
  call.media.insertDTMF(key);
  signal.send({ type: 'dtmf', call_id: call.id, digits: key });
}

// ---------------------------------------------------------------------------
// Presence, sign-in, sign-out

function togglePresence() {
  unlockAudio();
  const next = S.chosen === 'available' ? 'away' : 'available';
  signal.request({ type: 'presence', status: next }).then(() => {
    S.chosen = next;
    if (S.presence !== 'in_call') S.presence = next;
    render();
  }, (err) => showNotice(failureText('Could not change your status', err), 'error'));
}

function signIn(ev) {
  ev.preventDefault();
  unlockAudio();
  const token = el.token.value.trim();
  if (!token) {
    showSignin('Enter your token.');
    el.token.focus();
    return;
  }
  S.token = token;
  sessionStorage.setItem(TOKEN_KEY, token);
  el.signinError.hidden = true;
  signal.start(token);
}

function signOut() {
  if (S.call) endCall(S.call, '', { tell: true });
  forgetToken();
  signal.stop();
  showSignin('');
}

function forgetToken() {
  S.token = null;
  S.welcomed = false;
  S.user = null;
  sessionStorage.removeItem(TOKEN_KEY);
}

function showSignin(error) {
  el.app.hidden = true;
  el.signin.hidden = false;
  el.me.hidden = true;
  for (const id of [...S.incoming.keys()]) removeIncoming(id);
  stopPlayer();
  el.recentsList.replaceChildren();
  setText(el.signinError, error);
  render();
  el.token.focus();
}

// ---------------------------------------------------------------------------
// Recent calls

let recentsSeq = 0;

async function refreshRecents() {
  if (!S.token || !S.welcomed) return;
  const seq = ++recentsSeq;
  try {
    const res = await fetch(`/api/calls?limit=${RECENTS_LIMIT}`, {
      headers: { Accept: 'application/json', Authorization: `Bearer ${S.token}` },
      cache: 'no-store',
    });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    const body = await res.json();
    if (seq !== recentsSeq) return; // a newer refresh already started
    renderRecents(Array.isArray(body.calls) ? body.calls : []);
  } catch (err) {
    if (seq !== recentsSeq) return;
    el.recentsStatus.textContent = `Could not load recent calls (${err.message}).`;
  }
}

function renderRecents(calls) {
  el.recentsStatus.textContent = calls.length ? '' : 'No calls yet.';
  const items = calls.map((rec) => {
    const inbound = rec.direction === 'inbound';
    const li = document.createElement('li');
    li.className = 'recent';
    li.dataset.outcome = rec.outcome || 'open';

    const icon = document.createElement('span');
    icon.className = `recent-dir ${inbound ? 'in' : 'out'}`;
    icon.textContent = inbound ? '↙' : '↗';
    icon.setAttribute('aria-hidden', 'true');

    const main = document.createElement('div');
    main.className = 'recent-main';
    const who = document.createElement('p');
    who.className = 'recent-who';
    const cid = rec.caller_id && rec.caller_id.name ? rec.caller_id : null;
    const other = inbound ? rec.caller : rec.callee;
    who.textContent = (inbound && cid ? cid.name : other) || 'Unknown';
    const sub = document.createElement('p');
    sub.className = 'recent-sub muted';
    const dirWord = inbound ? 'Incoming' : 'Outgoing';
    const ours = numberLabel(rec.number);
    sub.textContent = [
      dirWord,
      inbound && cid ? other : '',
      ours ? `${inbound ? 'to' : 'from'} ${ours}` : '',
    ].filter(Boolean).join(' · ');
    main.append(who, sub);

    const meta = document.createElement('div');
    meta.className = 'recent-meta';
    const when = document.createElement('time');
    when.className = 'recent-when';
    if (rec.started_at) {
      when.dateTime = rec.started_at;
      when.textContent = whenText(new Date(rec.started_at));
      when.title = new Date(rec.started_at).toLocaleString();
    }
    const badge = document.createElement('span');
    badge.className = 'badge';
    badge.dataset.outcome = rec.outcome || 'open';
    badge.textContent = outcomeText(rec.outcome);
    const dur = document.createElement('span');
    dur.className = 'recent-duration muted';
    dur.textContent = rec.outcome === 'answered' ? clock(rec.duration_seconds || 0) : '';
    meta.append(when, badge, dur);
    const play = recordingButton(rec, li);
    if (play) meta.append(play);

    li.append(icon, main, meta);
    li.dataset.callId = rec.id;
    return li;
  });
  // A refresh must not cut off a recording being played: its player moves
  // into the new item before the old one leaves the page, so the element
  // is never out of the document long enough to be paused.
  const host = player.callId && items.find((li) => li.dataset.callId === player.callId
    && li.querySelector('[data-action="play-recording"]'));
  if (host) host.append(player.box);
  else stopPlayer();
  el.recentsList.replaceChildren(...items);
}

// ---------------------------------------------------------------------------
// Call recordings: one player at a time, in the item of the call it plays.
//
// An <audio> element cannot send the bearer token, and the token must not
// go into a URL; the recording's metadata (fetched with the token) carries
// a short-lived playback link for this call's audio instead.

/** The player on the page: the call it plays and its box in that item. */
const player = { callId: null, box: null, seq: 0 };

/**
 * The recents item's recording control: "Play recording", or a disabled
 * "Recording…" while the call is still recorded; null without a recording.
 */
function recordingButton(rec, li) {
  const r = rec.recording;
  if (!r || !rec.id) return null;
  const button = document.createElement('button');
  button.type = 'button';
  button.className = 'btn btn-small recent-play';
  button.dataset.action = 'play-recording';
  if (r.state === 'recording') {
    button.textContent = 'Recording…';
    button.disabled = true;
    return button;
  }
  button.textContent = 'Play recording';
  button.title = r.duration_seconds ? `Recording, ${clock(r.duration_seconds)}` : 'Recording';
  button.addEventListener('click', () => playRecording(rec.id, li));
  return button;
}

async function playRecording(callId, li) {
  stopPlayer(); // clicking again, or another call's button, starts afresh
  const seq = ++player.seq;
  const box = document.createElement('div');
  box.className = 'recent-player';
  const status = document.createElement('p');
  status.className = 'recent-player-status muted';
  status.setAttribute('role', 'status');
  status.textContent = 'Loading the recording…';
  box.append(status);
  player.callId = callId;
  player.box = box;
  li.append(box);
  try {
    const res = await fetch(`/api/calls/${encodeURIComponent(callId)}/recording`, {
      headers: { Accept: 'application/json', Authorization: `Bearer ${S.token}` },
      cache: 'no-store',
    });
    if (!res.ok) throw new Error(await apiError(res));
    const rec = await res.json();
    if (seq !== player.seq) return; // another click took over
    if (!rec.audio_url) throw new Error('the gateway sent no playback link');
    const audio = document.createElement('audio');
    audio.controls = true;
    audio.preload = 'metadata';
    audio.setAttribute('aria-label', 'Call recording');
    audio.addEventListener('error', () => {
      if (player.box !== box) return;
      // The link lasts minutes: a player left paused longer than that
      // needs a new one.
      showPlayerError(box, 'The recording could not be played. Press Play recording to try again.');
    });
    audio.src = rec.audio_url;
    box.replaceChildren(audio);
    audio.play().catch(() => {}); // autoplay refused: the controls are there
  } catch (err) {
    if (seq !== player.seq) return;
    showPlayerError(box, `Could not load the recording (${err.message}).`);
  }
}

function showPlayerError(box, text) {
  const p = document.createElement('p');
  p.className = 'recent-player-status form-error';
  p.setAttribute('role', 'alert');
  p.textContent = text;
  box.replaceChildren(p);
}

/** Stops and removes the player, if any. */
function stopPlayer() {
  const { box } = player;
  player.callId = null;
  player.box = null;
  player.seq++;
  if (!box) return;
  const audio = box.querySelector('audio');
  if (audio) {
    audio.pause();
    // Drops the element's connection, so it stops fetching the file.
    audio.removeAttribute('src');
    audio.load();
  }
  box.remove();
}

/** The "error" message of an API reply, or its status. */
async function apiError(res) {
  try {
    const body = await res.json();
    if (body && body.error) return body.error;
  } catch {
    // not JSON: fall through to the status
  }
  return `HTTP ${res.status}`;
}

// ---------------------------------------------------------------------------
// Rendering

function render() {
  const signedIn = Boolean(S.token);
  const online = S.connection === 'online';
  const call = S.call;

  // Header
  el.me.hidden = !S.welcomed;
  el.conn.dataset.state = S.connection;
  el.connText.textContent = connectionText();
  el.userName.textContent = S.user ? S.user.name || S.user.id : '';
  setText(el.userTeam, S.user && S.user.team);
  el.presencePill.dataset.status = S.presence;
  el.presencePill.textContent = { available: 'Available', away: 'Away', in_call: 'In a call' }[S.presence] || S.presence;
  el.presenceToggle.textContent = S.chosen === 'available' ? 'Set away' : 'Set available';
  el.presenceToggle.disabled = !online;

  // Sign-in form (visible until the first welcome)
  if (!S.welcomed) {
    const busy = signedIn && S.connection !== 'offline';
    el.signinButton.disabled = signedIn && (S.connection === 'connecting' || S.connection === 'signing_in');
    el.signinStatus.textContent = !busy ? ''
      : S.connection === 'retrying' ? 'Cannot reach the gateway. Retrying…' : 'Signing in…';
  }

  // Incoming cards: Answer waits while this tab is in another call.
  let ringing = false;
  for (const inc of S.incoming.values()) {
    inc.el.querySelector('[data-action="answer"]').disabled = Boolean(call) || !online;
    if (!inc.answering) ringing = true;
  }
  if (ringing && !call) ringer.start();
  else ringer.stop();
  document.title = ringing ? 'Incoming call · Switchboard' : 'Switchboard';

  // Current call
  el.call.hidden = !call;
  el.dialer.hidden = Boolean(call);
  if (call) {
    el.call.dataset.state = call.state;
    el.call.dataset.held = String(call.held || call.state === 'held');
    el.callPeer.textContent = call.peer;
    setText(el.callDetail, call.detail);
    setAvatar(el.callAvatar, call.known ? call.peer : '');
    el.callState.textContent = callStateText(call);
    el.mute.textContent = call.muted ? 'Unmute' : 'Mute';
    el.mute.setAttribute('aria-pressed', String(call.muted));
    el.hold.textContent = call.held ? 'Resume' : 'Hold';
    el.hold.setAttribute('aria-pressed', String(call.held));
    el.hold.disabled = !call.id || !['answered', 'held'].includes(call.state);
    renderTimer();
  }

  // Dialer
  const canDial = online && !call && S.numbers.length > 0;
  el.callButton.disabled = !canDial;
  el.callerId.disabled = !online || S.numbers.length === 0;
  el.keypadHint.textContent = call ? 'Keypad: sends tones to the call' : 'Keypad';
}

function renderTimer() {
  const call = S.call;
  el.callTimer.hidden = !call || !call.answeredAt;
  if (call && call.answeredAt) el.callTimer.textContent = clock((Date.now() - call.answeredAt) / 1000);
}

function connectionText() {
  switch (S.connection) {
    case 'online': return 'Connected';
    case 'connecting':
    case 'signing_in': return 'Connecting…';
    case 'retrying': return 'Offline · reconnecting…';
    default: return 'Offline';
  }
}

function callStateText(call) {
  if (call.mediaTrouble) return 'Connection unstable…';
  if (call.held || call.state === 'held') return 'On hold';
  switch (call.state) {
    case 'answering': return 'Connecting…';
    case 'dialing': return 'Calling…';
    case 'ringing':
    case 'early_media': return 'Ringing…';
    case 'answered': return call.muted ? 'Connected · muted' : 'Connected';
    default: return call.state;
  }
}

function fillCallerIds() {
  const keep = el.callerId.value;
  const options = S.numbers.map((n) => {
    const o = document.createElement('option');
    o.value = n.number;
    o.textContent = n.name ? `${n.name} (${n.number})` : n.number;
    return o;
  });
  if (options.length === 0) {
    const o = document.createElement('option');
    o.value = '';
    o.textContent = 'No numbers assigned';
    options.push(o);
  }
  el.callerId.replaceChildren(...options);
  if (S.numbers.some((n) => n.number === keep)) el.callerId.value = keep;
}

function announce(text) {
  // Re-setting the same text would not be read again; clear it first.
  el.announce.textContent = '';
  setTimeout(() => { el.announce.textContent = text; }, 50);
}

function showNotice(text, kind = 'info') {
  clearTimeout(noticeTimer);
  el.notice.textContent = text;
  el.notice.dataset.kind = kind;
  el.notice.hidden = !text;
  if (text) noticeTimer = setTimeout(() => { el.notice.hidden = true; }, kind === 'error' ? NOTICE_MS * 2 : NOTICE_MS);
}

// ---------------------------------------------------------------------------
// Formatting helpers

function setText(node, text) {
  node.textContent = text || '';
  node.hidden = !text;
}

function setAvatar(node, name) {
  const initials = (name || '').split(/\s+/).filter(Boolean).slice(0, 2).map((w) => w[0].toUpperCase()).join('');
  node.textContent = initials;
  node.dataset.empty = initials ? 'false' : 'true';
}

function numberLabel(number) {
  const n = S.numbers.find((x) => x.number === number);
  return n && n.name ? n.name : number || '';
}

function dealText(deal) {
  const amount = typeof deal.amount === 'number' ? money(deal.amount, deal.currency) : '';
  return [deal.name, amount].filter(Boolean).join(' · ');
}

function money(amount, currency) {
  try {
    return new Intl.NumberFormat(undefined, {
      style: 'currency', currency: currency || 'USD', maximumFractionDigits: amount % 1 ? 2 : 0,
    }).format(amount);
  } catch {
    return `${amount} ${currency || ''}`.trim();
  }
}

function clock(totalSeconds) {
  const s = Math.max(0, Math.floor(totalSeconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

function whenText(date) {
  if (Number.isNaN(date.getTime())) return '';
  const now = new Date();
  const time = date.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });
  if (date.toDateString() === now.toDateString()) return time;
  const days = (now - date) / 86400000;
  if (days < 6) return `${date.toLocaleDateString(undefined, { weekday: 'short' })} ${time}`;
  return date.toLocaleDateString(undefined, { day: 'numeric', month: 'short' });
}

function outcomeText(outcome) {
  return {
    answered: 'Answered', missed: 'Missed', busy: 'Busy', failed: 'Failed',
    cancelled: 'Cancelled', interrupted: 'Interrupted',
  }[outcome] || 'In progress';
}

// Hangup causes from the call records (call/cause.go) in words.
const CAUSES = {
  normal_clearing: 'Call ended.',
  user_busy: 'The line is busy.',
  call_rejected: 'The call was declined.',
  no_answer: 'No answer.',
  temporarily_unavailable: 'The number is not available right now.',
  originator_cancel: 'The call was cancelled.',
  unallocated_number: 'That number does not exist.',
  forbidden: 'That call is not allowed.',
  incompatible_destination: 'The call could not agree on audio.',
  rtp_timeout: 'The call lost its audio and was ended.',
  shutdown: 'The gateway is restarting; the call was ended.',
  network_failure: 'The call failed in the network.',
};

function endedText(cause) {
  if (!cause) return 'Call ended.';
  return CAUSES[cause] || `Call ended (${cause.replace(/_/g, ' ')}).`;
}

function failureText(what, err) {
  if (err instanceof MicrophoneError) return err.message;
  return `${what}: ${err && err.message ? err.message : err}`;
}

function normalizeIceServers(list) {
  if (!Array.isArray(list)) return [];
  return list.filter((s) => s && s.urls).map((s) => {
    const out = { urls: s.urls };
    if (s.username) out.username = s.username;
    if (s.credential) out.credential = s.credential;
    return out;
  });
}

// ---------------------------------------------------------------------------
// Wiring

el.signinForm.addEventListener('submit', signIn);
el.signOut.addEventListener('click', signOut);
el.presenceToggle.addEventListener('click', togglePresence);
el.mute.addEventListener('click', toggleMute);
el.hold.addEventListener('click', toggleHold);
el.hangup.addEventListener('click', hangup);
el.recentsRefresh.addEventListener('click', refreshRecents);
for (const key of el.keys) key.addEventListener('click', () => pressKey(key.dataset.key));

el.dialer.addEventListener('submit', (ev) => {
  ev.preventDefault();
  if (S.call) return;
  const to = el.number.value.trim();
  const from = el.callerId.value;
  if ((to.match(/\d/g) || []).length < 2) {
    showNotice('Enter a number to call.', 'error');
    el.number.focus();
    return;
  }
  if (!from) {
    showNotice('You have no number to call from.', 'error');
    return;
  }
  dial(to, from);
});

// Browsers keep audio off until the user interacts with the page; any
// click or key press lets the ringtone play (a tab restored from
// sessionStorage may not have had a click yet).
document.addEventListener('pointerdown', unlockAudio, { capture: true });
document.addEventListener('keydown', unlockAudio, { capture: true });

// Digits typed while in a call (and not into a field) go out as DTMF.
document.addEventListener('keydown', (ev) => {
  if (!S.call || ev.ctrlKey || ev.metaKey || ev.altKey || !DTMF_KEYS.test(ev.key)) return;
  const t = ev.target;
  if (t instanceof HTMLInputElement || t instanceof HTMLSelectElement || t instanceof HTMLTextAreaElement) return;
  ev.preventDefault();
  pressKey(ev.key);
});

// Back online or back to the tab: reconnect now rather than at the end of
// the backoff, and catch up on calls taken elsewhere.
window.addEventListener('online', () => signal.retryNow());
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState !== 'visible') return;
  signal.retryNow();
  refreshRecents();
});
setInterval(() => {
  if (document.visibilityState === 'visible' && !S.call) refreshRecents();
}, RECENTS_EVERY_MS);

if (S.token) signal.start(S.token);
else showSignin('');
render();
