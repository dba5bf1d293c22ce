// When the other side's tone markers are heard here (peer/audio_marker.py: the Python peer's
// tone jumps for 60 ms at each whole second n of its timeline to one of four frequencies,
// chosen by n mod 4).
//
// The remote audio track (app.js announces it with an "rtvc-remote-audio" event) is tapped
// with WebAudio: a MediaStreamAudioSourceNode feeds an AudioWorklet (audio_marker_worklet.js)
// that runs peer/audio_marker.py's detector on the render thread and reports each marker's
// code and first sample (an exact AudioContext frame). That frame's context time is turned
// into the page's wall time (performance.timeOrigin's clock, as frame_age.js's times) with
// getOutputTimestamp(): the context time being played out now and the performance.now() it is
// played at. So "heard" is when the sample would leave the speaker through this graph, the
// output latency included (headless Chromium 156's fake output: 44.1 kHz, 40 ms reported, kept
// per marker as outputMs); the mapping's error is how wrong the device's latency estimate is
// (a few ms with a real device; unknown for the fake one, whose callbacks a timer drives)
// plus one render quantum (128 samples, 2.9 ms) of granularity. The <audio> element app.js plays the same track
// through a different path (Chromium's audio renderer); what a person hears there may differ
// from this graph by a few ms.
//
// window.audioMarker.heard: [{code, wallHeard (ms), contextTime (s), outputMs}], the harness's record
// (experiments/chrome_receiver.py names marker n and computes delay and skew with
// peer/audio_receiver.py's functions). window.audioMarker.delayMs: the last marker's delay
// against the remote source clock's t0 (a Python peer's offer or answer), for people; null
// without t0 or marker: unknown, never zero. No AudioWorklet (an insecure origin such as
// http://192.168.x.y: worklets need https or localhost): window.audioMarker.error says so.
"use strict";

(() => {
  const MARKER_COUNT = 4, MAX_RECORDS = 10000;
  const audioMarker = { heard: [], delayMs: null, error: null, sampleRate: null };
  window.audioMarker = audioMarker;
  let context = null, ready = null, node = null, source = null;

  // As peer/audio_marker.py captured_at: second n of the tone's timeline from t0, the latest
  // n with that code not after the time heard (delays up to 4 s are named unambiguously).
  function capturedMs(code, heardMs, t0s) {
    let n = Math.floor((heardMs - t0s * 1000) / 1000);
    while (n >= 0 && n % MARKER_COUNT !== code) n--;
    return n >= 0 ? t0s * 1000 + n * 1000 : null;
  }

  function wallMs(contextTime) {
    const stamp = context.getOutputTimestamp ? context.getOutputTimestamp() : null;
    if (stamp && stamp.performanceTime > 0) {
      return performance.timeOrigin + stamp.performanceTime + (contextTime - stamp.contextTime) * 1000;
    }
    // Not yet playing out: now, plus how far ahead of now the frame is, plus the output delay.
    const latency = (context.baseLatency || 0) + (context.outputLatency || 0);
    return performance.timeOrigin + performance.now() + (contextTime - context.currentTime + latency) * 1000;
  }

  function onMarker(marker) {
    const contextTime = marker.sample / context.sampleRate;
    const wallHeard = wallMs(contextTime);
    if (audioMarker.heard.length < MAX_RECORDS) {
      // outputMs: the output's latency as the context reports it then (included in wallHeard)
      const outputMs = ((context.baseLatency || 0) + (context.outputLatency || 0)) * 1000;
      audioMarker.heard.push({ code: marker.code, wallHeard, contextTime, outputMs });
    }
    const remote = window.callState ? window.callState.remoteSource : null;
    const captured = remote && typeof remote.t0 === "number" ? capturedMs(marker.code, wallHeard, remote.t0) : null;
    audioMarker.delayMs = captured === null ? null : wallHeard - captured;
  }

  function start() {
    if (ready) return ready;
    if (typeof AudioContext !== "function" || typeof AudioWorkletNode !== "function") {
      audioMarker.error = "no AudioWorklet here (it needs https or localhost): audio delay unknown";
      return (ready = Promise.reject(new Error(audioMarker.error)));
    }
    context = new AudioContext({ latencyHint: "interactive" });
    audioMarker.sampleRate = context.sampleRate;
    // A page opened without a click starts suspended (autoplay rules): resume on the first one.
    const resume = () => { if (context.state === "suspended") context.resume().catch(() => {}); };
    resume();
    document.addEventListener("click", resume);
    ready = context.audioWorklet.addModule("/static/audio_marker_worklet.js").then(() => {
      node = new AudioWorkletNode(context, "rtvc-marker", { numberOfOutputs: 1, outputChannelCount: [1] });
      node.port.onmessage = (e) => onMarker(e.data);
      node.connect(context.destination);  // silent: only so that the graph renders the node
    });
    ready.catch((err) => { audioMarker.error = `audio marker: ${err}`; });
    return ready;
  }

  window.addEventListener("rtvc-remote-audio", (e) => {
    const stream = e.detail;
    start().then(() => {
      if (source) source.disconnect();
      source = null;
      // Chromium renders a remote WebRTC track into WebAudio only while a media element
      // plays it too: app.js's <audio> element does.
      if (stream && stream.getAudioTracks().length) {
        source = context.createMediaStreamSource(stream);
        source.connect(node);
      }
    }).catch(() => {});
  });
})();
