// The tone's marker detector, run on WebAudio's render thread (an AudioWorklet module).
//
// The same rule as peer/audio_marker.py MarkerDetector, with its constants: the power at the
// four marker frequencies (a Hann-windowed correlation, Goertzel's power) in 5 ms windows
// every 1 ms; a marker starts at the first window where one of them holds at least half the
// window's energy (and the window is not silence), at least 0.5 s after the previous marker.
// Times are sample indices of the AudioContext (currentFrame): exact, whatever the thread's
// scheduling; the page turns them into wall time (audio_marker.js).
//
// The detector class is plain JS so that a test can run it outside a browser
// (tests/signaling/test_audio_marker_js.py feeds it peer/audio_marker.py's tone with node).
"use strict";

const MARKER_HZ = [1200, 1700, 2300, 3000];
const WINDOW_MS = 5, HOP_MS = 1;
const MARKER_POWER_SHARE = 0.5, HANN_SINE_SHARE = 3, MIN_POWER = 1e-4, MARKER_GAP_S = 0.5;

class RtvcMarkerDetector {
  constructor(sampleRate) {
    if (!(sampleRate > 0)) throw new Error(`sampleRate must be positive, got ${sampleRate}`);
    this.sampleRate = sampleRate;
    // Python's round() is half-to-even; 5 ms and 1 ms of any usual rate are whole or far from .5
    this.window = Math.max(8, Math.round((WINDOW_MS / 1000) * sampleRate));
    this.hop = Math.max(1, Math.round((HOP_MS / 1000) * sampleRate));
    const n = this.window;
    this.taper = new Float64Array(n);  // numpy.hanning: symmetric, zero at both ends
    for (let k = 0; k < n; k++) this.taper[k] = 0.5 - 0.5 * Math.cos((2 * Math.PI * k) / (n - 1));
    this.cos = MARKER_HZ.map((f) => this.taper.map((w, k) => w * Math.cos((2 * Math.PI * f * k) / sampleRate)));
    this.sin = MARKER_HZ.map((f) => this.taper.map((w, k) => w * Math.sin((2 * Math.PI * f * k) / sampleRate)));
    this.size = 1;
    while (this.size < 4 * (n + this.hop + 256)) this.size *= 2;
    this.ring = new Float64Array(this.size);  // sample s at ring[s % size]
    this.end = null;  // index of the sample after the last one fed
    this.next = null;  // first sample of the next window
    this.lastMarker = null;  // sample index of the last marker
    this.markersHeard = 0;
  }

  // Mono samples whose first one is sample `first` of the context's timeline; returns
  // [{code, sample}] for each marker starting in what could be judged.
  feed(samples, first) {
    if (this.end === null || first !== this.end) this.next = first;  // a gap: start again there
    for (let i = 0; i < samples.length; i++) this.ring[(first + i) % this.size] = samples[i];
    this.end = first + samples.length;
    const heard = [];
    const n = this.window, ring = this.ring, size = this.size;
    for (; this.next + n <= this.end; this.next += this.hop) {
      let square = 0, energy = 0, best = 0, bestPower = -1;
      const re = [0, 0, 0, 0], im = [0, 0, 0, 0];
      for (let k = 0; k < n; k++) {
        const x = ring[(this.next + k) % size];
        const tapered = x * this.taper[k];
        square += x * x;
        energy += tapered * tapered;
        for (let m = 0; m < 4; m++) {
          re[m] += x * this.cos[m][k];
          im[m] += x * this.sin[m][k];
        }
      }
      for (let m = 0; m < 4; m++) {
        const power = re[m] * re[m] + im[m] * im[m];
        if (power > bestPower) { bestPower = power; best = m; }
      }
      const share = (HANN_SINE_SHARE * bestPower) / Math.max(n * energy, 1e-30);
      if (share < MARKER_POWER_SHARE || square / n < MIN_POWER) continue;
      const gap = MARKER_GAP_S * this.sampleRate;
      if (this.lastMarker === null || this.next - this.lastMarker >= gap - 1e-9) {
        this.lastMarker = this.next;
        this.markersHeard++;
        heard.push({ code: best, sample: this.next });
      }
    }
    return heard;
  }
}
globalThis.RtvcMarkerDetector = RtvcMarkerDetector;

if (typeof registerProcessor === "function") {
  // Input: the remote track (any channel count, averaged to mono). Output: silence; the node
  // is connected to the destination only so that the graph renders it.
  class MarkerProcessor extends AudioWorkletProcessor {
    constructor() {
      super();
      this.detector = new RtvcMarkerDetector(sampleRate);
      this.mono = new Float64Array(128);
    }

    process(inputs) {
      const channels = inputs[0];
      if (!channels || channels.length === 0) return true;  // no input connected yet
      const length = channels[0].length;
      if (this.mono.length !== length) this.mono = new Float64Array(length);
      for (let i = 0; i < length; i++) {
        let sum = 0;
        for (const channel of channels) sum += channel[i];
        this.mono[i] = sum / channels.length;
      }
      for (const marker of this.detector.feed(this.mono, currentFrame)) this.port.postMessage(marker);
      return true;
    }
  }
  registerProcessor("rtvc-marker", MarkerProcessor);
}
