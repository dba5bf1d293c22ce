// The two-party call page: signaling over /ws, one RTCPeerConnection, live getStats() charts.
//
// Query parameters (see signaling/PROTOCOL.md, "The demo page"):
//   room=R          the room to join (empty: a new random room on "Join")
//   autojoin=1      join at once
//   ice=URL         a STUN/TURN server, e.g. turn:127.0.0.1:3478 (comma-separated for several)
//   ice_user=N:P    TURN username and password
//   relay=1         relay-only ICE (iceTransportPolicy "relay")
//   token=T         admission token, when the server requires one
//   ws=URL          signaling WebSocket (default: this server's /ws)
//   stats=0         hide the charts (statistics are still collected in window.callStats)
//   stats_ms=N      statistics interval (default 1000 ms)
//   frames=1        record per-frame callbacks of #local and #remote in window.frameLog
//   audio=1         send the microphone too (default: video only); the other side's sound
//                   is played whenever it sends some, and counted in window.callStats
//   camera=0        open no camera: receive only
//   stamps=1, ssim_every=N   keep the remote frames' stamps and ages (see frame_age.js)
// The other side's tone markers, when it sends the Python peer's tone, are timed in
// window.audioMarker (see audio_marker.js).
//
// Role rule (same as the Python peer): the first member in a room waits; a member whose
// "joined" lists peers makes the offer. ICE candidates are trickled as "candidate" messages
// in RTCIceCandidate.toJSON() shape; null means end of candidates.
"use strict";

(() => {
  const params = new URLSearchParams(location.search);
  const settings = {
    room: params.get("room") || "",
    autojoin: params.get("autojoin") === "1",
    ice: (params.get("ice") || "").split(",").map((s) => s.trim()).filter(Boolean),
    iceUser: params.get("ice_user") || "",
    relay: params.get("relay") === "1",
    token: params.get("token") || null,
    wsUrl: params.get("ws") ||
      `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`,
    showStats: params.get("stats") !== "0",
    statsMs: Math.max(100, parseInt(params.get("stats_ms") || "1000", 10) || 1000),
    frames: params.get("frames") === "1",
    audio: params.get("audio") === "1",
    camera: params.get("camera") !== "0",
  };
  const MAX_SAMPLES = 3600;
  const MAX_FRAME_RECORDS = 100000;

  const $ = (id) => document.getElementById(id);
  const localVideo = $("local");
  const remoteVideo = $("remote");
  const remoteAudio = new Audio();  // #remote is muted (autoplay rules): sound plays here
  remoteAudio.autoplay = true;

  const state = {
    phase: "idle",  // idle | joining | waiting | calling | connected | ended | error
    room: null, id: null, peer: null, role: null,
    signaling: "closed", iceState: "new", connectionState: "new",
    framesDecoded: 0, framesSent: 0, framesPerSecond: 0, width: 0, height: 0,
    bitrateInKbps: 0, bitrateOutKbps: 0, rttMs: null, packetsLost: 0,
    lastError: null, events: [],
    // The other side's announced source clock (a Python peer's "source"), for frame ages;
    // when the call connected and ended, on the wall clock of performance.timeOrigin (ms);
    // the frames the other side said it sent (its bye).
    remoteSource: null, connectedAtWall: null, endedAtWall: null, remoteFramesSent: null,
  };
  window.callState = state;
  window.callStats = [];
  window.frameLog = { local: [], remote: [] };

  let ws = null;
  let pc = null;
  let localStream = null;
  let pendingCandidates = [];
  let statsTimer = null;
  let previous = null;  // last stats sample's byte counters

  function note(event) {
    state.events.push({ t: performance.now(), ...event });
    if (state.events.length > 500) state.events.shift();
  }

  function setStatus(text, isError = false) {
    const el = $("status");
    el.textContent = text;
    el.className = isError ? "error" : "";
    if (isError) state.lastError = text;
  }

  function setPhase(phase, text) {
    state.phase = phase;
    setStatus(text || phase, phase === "error");
    note({ phase });
    $("hangup").disabled = !["joining", "waiting", "calling", "connected"].includes(phase);
    $("join").disabled = !$("hangup").disabled;
  }

  function send(message) {
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(message));
  }

  function iceConfig() {
    const config = { iceServers: [], iceTransportPolicy: settings.relay ? "relay" : "all" };
    if (settings.ice.length) {
      const server = { urls: settings.ice };
      if (settings.iceUser) {
        const colon = settings.iceUser.indexOf(":");
        server.username = colon < 0 ? settings.iceUser : settings.iceUser.slice(0, colon);
        server.credential = colon < 0 ? "" : settings.iceUser.slice(colon + 1);
      }
      config.iceServers.push(server);
    }
    return config;
  }

  async function openCamera() {
    if (localStream || !settings.camera) return;
    try {
      localStream = await navigator.mediaDevices.getUserMedia({ video: true, audio: settings.audio });
      localVideo.srcObject = localStream;
      if (settings.frames) recordFrames(localVideo, window.frameLog.local);
    } catch (err) {
      setStatus(`no camera (${err.name}): receiving only`, true);
      localStream = null;
    }
  }

  function recordFrames(video, log) {
    if (!("requestVideoFrameCallback" in HTMLVideoElement.prototype)) return;
    const onFrame = (now, meta) => {
      if (log.length < MAX_FRAME_RECORDS) {
        log.push({
          now, presentationTime: meta.presentationTime, expectedDisplayTime: meta.expectedDisplayTime,
          captureTime: meta.captureTime ?? null, receiveTime: meta.receiveTime ?? null,
          rtpTimestamp: meta.rtpTimestamp ?? null, mediaTime: meta.mediaTime,
          presentedFrames: meta.presentedFrames, width: meta.width, height: meta.height,
        });
      }
      video.requestVideoFrameCallback(onFrame);
    };
    video.requestVideoFrameCallback(onFrame);
  }

  function createPeerConnection(peerId) {
    closePeerConnection();
    state.peer = peerId;
    pendingCandidates = [];
    previous = null;
    pc = new RTCPeerConnection(iceConfig());
    const mine = pc;
    if (localStream) {
      for (const track of localStream.getTracks()) pc.addTrack(track, localStream);
    } else {
      pc.addTransceiver("video", { direction: "recvonly" });
    }
    pc.onicecandidate = (e) => {
      if (mine !== pc) return;
      send({ type: "candidate", to: peerId, candidate: e.candidate ? e.candidate.toJSON() : null });
    };
    pc.ontrack = (e) => {
      if (e.track.kind === "audio") {
        remoteAudio.srcObject = new MediaStream([e.track]);
        remoteAudio.play().catch(() => {});  // refused without a gesture: still received
        window.dispatchEvent(new CustomEvent("rtvc-remote-audio", { detail: remoteAudio.srcObject }));
        return;
      }
      if (e.track.kind !== "video") return;
      remoteVideo.srcObject = e.streams[0] || new MediaStream([e.track]);
      remoteVideo.play().catch(() => {});
    };
    pc.oniceconnectionstatechange = () => {
      if (mine === pc) { state.iceState = pc.iceConnectionState; note({ ice: state.iceState }); }
    };
    pc.onconnectionstatechange = () => {
      if (mine !== pc) return;
      state.connectionState = pc.connectionState;
      note({ connection: state.connectionState });
      if (pc.connectionState === "connected") {
        // The first time only: the page's call began then, even if it comes back after an
        // outage (disconnected, connected again; a new offer after our peer's restart).
        state.connectedAtWall ??= performance.timeOrigin + performance.now();
        setPhase("connected", `connected to ${peerId}`);
      }
      if (pc.connectionState === "failed") setPhase("error", "the call failed (ICE); try again");
    };
    return pc;
  }

  function closePeerConnection() {
    if (pc) pc.close();
    pc = null;
    state.peer = null;
    state.iceState = "new";
    state.connectionState = "new";
    remoteVideo.srcObject = null;
    if (remoteAudio.srcObject) window.dispatchEvent(new CustomEvent("rtvc-remote-audio", { detail: null }));
    remoteAudio.srcObject = null;
  }

  async function addCandidate(candidate) {
    let init = candidate;
    if (typeof init === "string") init = { candidate: init };
    if (init && init.sdpMid == null && init.sdpMLineIndex == null) {
      init = { ...init, sdpMLineIndex: 0 };
    }
    try {
      await pc.addIceCandidate(init || null);
    } catch (err) {
      note({ candidateError: String(err) });
    }
  }

  async function flushCandidates() {
    const queued = pendingCandidates;
    pendingCandidates = [];
    for (const candidate of queued) await addCandidate(candidate);
  }

  async function call(peerId) {
    state.role = "offerer";
    setPhase("calling", `calling ${peerId}…`);
    const conn = createPeerConnection(peerId);
    const offer = await conn.createOffer();
    await conn.setLocalDescription(offer);
    send({ type: "offer", to: peerId, sdp: conn.localDescription.sdp });
  }

  async function onOffer(message) {
    state.role = "answerer";
    setPhase("calling", `answering ${message.from}…`);
    const conn = createPeerConnection(message.from);
    state.remoteSource = message.source ?? null;
    await conn.setRemoteDescription({ type: "offer", sdp: message.sdp });
    await flushCandidates();
    const answer = await conn.createAnswer();
    await conn.setLocalDescription(answer);
    send({ type: "answer", to: message.from, sdp: conn.localDescription.sdp });
  }

  async function onMessage(message) {
    switch (message.type) {
      case "joined":
        state.id = message.id;
        state.room = message.room;
        if (message.peers && message.peers.length) await call(message.peers[0]);
        else setPhase("waiting", `in room ${message.room}: waiting for someone to join`);
        break;
      case "peer-joined":
        setStatus(`${message.id} joined; waiting for their offer`);
        break;
      case "offer":
        await onOffer(message);
        break;
      case "answer":
        if (pc && message.from === state.peer) {
          state.remoteSource = message.source ?? null;
          await pc.setRemoteDescription({ type: "answer", sdp: message.sdp });
          await flushCandidates();
        }
        break;
      case "candidate":
        if (!pc || message.from !== state.peer) break;
        if (!pc.remoteDescription) pendingCandidates.push(message.candidate ?? null);
        else await addCandidate(message.candidate ?? null);
        break;
      case "bye":
      case "peer-left": {
        const who = message.type === "bye" ? message.from : message.id;
        if (who === state.peer) {
          state.endedAtWall = performance.timeOrigin + performance.now();
          if (message.type === "bye") state.remoteFramesSent = message.frames_sent ?? null;
          try { await sampleStats(); } catch (err) { note({ statsError: String(err) }); }  // the call's last figures
          closePeerConnection();
          setPhase("waiting", `${who} left; waiting in room ${state.room}`);
        }
        break;
      }
      case "error":
        setStatus(`server: ${message.message} (${message.code})`, true);
        if (["room-full", "bad-token", "bad-message", "unsupported-version"].includes(message.code)
            && state.phase === "joining") {
          setPhase("error", `cannot join: ${message.message}`);
        }
        break;
      default:
        break;
    }
  }

  async function join(room) {
    if (!room) room = Math.random().toString(36).slice(2, 10);
    settings.room = room;
    $("room").value = room;
    const url = new URL(location.href);
    url.searchParams.set("room", room);
    url.searchParams.delete("autojoin");
    history.replaceState(null, "", url);
    $("link").textContent = url.href;
    $("link").href = url.href;
    setPhase("joining", `joining ${room}…`);
    await openCamera();
    ws = new WebSocket(settings.wsUrl);
    state.signaling = "connecting";
    let chain = Promise.resolve();  // handle messages one after another, in order
    ws.onopen = () => {
      state.signaling = "open";
      const message = { type: "join", room, v: 1 };
      if (settings.token) message.token = settings.token;
      send(message);
    };
    ws.onmessage = (e) => {
      let message;
      try { message = JSON.parse(e.data); } catch { return; }
      chain = chain.then(() => onMessage(message)).catch((err) => {
        setStatus(`call setup failed: ${err}`, true);
        note({ error: String(err) });
      });
    };
    ws.onclose = (e) => {
      state.signaling = "closed";
      note({ wsClosed: e.code });
      if (state.phase === "ended") return;
      const reason = e.code === 1001 ? "the server shut down" : `signaling closed (${e.code})`;
      if (!pc || state.phase !== "connected") setPhase("error", reason);
      else setStatus(`${reason}; the call goes on`, true);
    };
    startStats();
  }

  function hangup() {
    send({ type: "bye" });
    closePeerConnection();
    setPhase("ended", "call ended");
    if (ws) ws.close(1000, "hang up");
    ws = null;
    if (localStream) for (const track of localStream.getTracks()) track.stop();
    localStream = null;
    localVideo.srcObject = null;
  }

  // --- statistics ---

  const charts = {};
  function makeCharts() {
    const box = $("charts");
    if (!settings.showStats) box.classList.add("hidden");
    charts.inKbps = new window.Sparkline(box, "recv", "kbit/s", "#6cf");
    charts.outKbps = new window.Sparkline(box, "send", "kbit/s", "#fc6");
    charts.rttMs = new window.Sparkline(box, "RTT", "ms", "#f6c");
    charts.fps = new window.Sparkline(box, "recv fps", "fps", "#6f9");
    charts.height = new window.Sparkline(box, "recv height", "px", "#c9f");
    charts.packetsLost = new window.Sparkline(box, "lost", "packets", "#f66");
  }

  async function sampleStats() {
    if (!pc) return;
    const report = await pc.getStats();
    const s = { t: performance.now(), wallMs: Date.now(), bytesIn: 0, bytesOut: 0 };
    let selectedPair = null;
    report.forEach((r) => {
      if (r.type === "inbound-rtp" && r.kind === "video") {
        s.bytesIn += r.bytesReceived || 0;
        s.framesDecoded = r.framesDecoded || 0;
        s.framesDropped = r.framesDropped || 0;
        s.fps = r.framesPerSecond || 0;
        s.width = r.frameWidth || 0;
        s.height = r.frameHeight || 0;
        s.packetsLost = r.packetsLost || 0;
        s.jitterMs = (r.jitter || 0) * 1000;
        s.jitterBufferDelayMs = r.jitterBufferEmittedCount
          ? (1000 * r.jitterBufferDelay) / r.jitterBufferEmittedCount : null;
        // cumulative, as getStats gives them (s), for the harness's per-call figure
        s.jitterBufferDelay = r.jitterBufferDelay ?? null;
        s.jitterBufferTargetDelay = r.jitterBufferTargetDelay ?? null;
        s.jitterBufferMinimumDelay = r.jitterBufferMinimumDelay ?? null;
        s.jitterBufferEmittedCount = r.jitterBufferEmittedCount ?? null;
        s.framesReceived = r.framesReceived ?? null;
        s.freezeCount = r.freezeCount ?? null;
      } else if (r.type === "inbound-rtp" && r.kind === "audio") {
        s.audioPacketsIn = r.packetsReceived || 0;
        s.audioSamplesIn = r.totalSamplesReceived || 0;
        s.audioJitterBufferMs = r.jitterBufferEmittedCount
          ? (1000 * r.jitterBufferDelay) / r.jitterBufferEmittedCount : null;
        s.audioJitterBufferDelay = r.jitterBufferDelay ?? null;  // cumulative (s)
        s.audioJitterBufferTargetDelay = r.jitterBufferTargetDelay ?? null;
        s.audioJitterBufferMinimumDelay = r.jitterBufferMinimumDelay ?? null;  // NetEq's own target
        s.audioJitterBufferEmittedCount = r.jitterBufferEmittedCount ?? null;
        s.audioJitterMs = (r.jitter || 0) * 1000;  // RFC 3550 inter-arrival jitter
      } else if (r.type === "outbound-rtp" && r.kind === "audio") {
        s.audioPacketsOut = r.packetsSent || 0;
      } else if (r.type === "outbound-rtp" && r.kind === "video") {
        s.bytesOut += r.bytesSent || 0;
        s.framesSent = r.framesSent || 0;
        s.framesEncoded = r.framesEncoded || 0;
        s.fpsOut = r.framesPerSecond || 0;
        s.widthOut = r.frameWidth || 0;
        s.heightOut = r.frameHeight || 0;
        s.targetBitrate = r.targetBitrate || null;
      } else if (r.type === "transport" && r.selectedCandidatePairId) {
        selectedPair = r.selectedCandidatePairId;
      } else if (r.type === "remote-inbound-rtp" && r.kind === "video" && r.roundTripTime != null) {
        s.remoteRttMs = r.roundTripTime * 1000;
      }
    });
    const pair = selectedPair ? report.get(selectedPair) : null;
    if (pair && pair.currentRoundTripTime != null) s.rttMs = pair.currentRoundTripTime * 1000;
    else if (s.remoteRttMs != null) s.rttMs = s.remoteRttMs;
    if (pair) s.availableOutgoingBitrate = pair.availableOutgoingBitrate ?? null;
    if (previous) {
      const dt = (s.t - previous.t) / 1000;
      s.inKbps = dt > 0 ? (8 * (s.bytesIn - previous.bytesIn)) / dt / 1000 : 0;
      s.outKbps = dt > 0 ? (8 * (s.bytesOut - previous.bytesOut)) / dt / 1000 : 0;
    }
    previous = s;
    window.callStats.push(s);
    if (window.callStats.length > MAX_SAMPLES) window.callStats.shift();
    Object.assign(state, {
      framesDecoded: s.framesDecoded || 0, framesSent: s.framesSent || 0,
      framesPerSecond: s.fps || 0, width: s.width || 0, height: s.height || 0,
      bitrateInKbps: s.inKbps || 0, bitrateOutKbps: s.outKbps || 0,
      rttMs: s.rttMs ?? null, packetsLost: s.packetsLost || 0,
    });
    charts.inKbps.push(s.inKbps);
    charts.outKbps.push(s.outKbps);
    charts.rttMs.push(s.rttMs);
    charts.fps.push(s.fps);
    charts.height.push(s.height);
    charts.packetsLost.push(s.packetsLost);
  }

  function startStats() {
    if (statsTimer) return;
    const tick = async () => {
      try { await sampleStats(); } catch (err) { note({ statsError: String(err) }); }
      statsTimer = setTimeout(tick, settings.statsMs);
    };
    statsTimer = setTimeout(tick, settings.statsMs);
  }

  // --- wiring ---

  makeCharts();
  if (settings.frames) recordFrames(remoteVideo, window.frameLog.remote);
  $("room").value = settings.room;
  $("join").onclick = () => join($("room").value.trim());
  $("hangup").onclick = hangup;
  window.callControl = { join, hangup, sampleStats, settings, peerConnection: () => pc };
  if (settings.autojoin) join(settings.room);
})();
