// How old the picture in #remote is, live: "what you see is N ms old".
//
// On every frame #remote presents (requestVideoFrameCallback), read its stamp; when the other
// side announced its source clock (a Python peer's offer or answer carries "source": t0, fps,
// loop_frames), the frame's capture time is t0 + stamp / fps, and its age is the time the
// frame is expected on screen (expectedDisplayTime, on the wall clock of performance.timeOrigin)
// minus that. No stamp or no clock (a camera, a browser): the age is unknown, never zero.
//
// Query parameters: stamps=1 keeps every presented frame in window.frameAge.log (the
// harness's receiver log, experiments/chrome_receiver.py); ssim_every=N also keeps the luma of
// every Nth stamped frame (base64, BT.601 limited range) so SSIM can be scored on a sample.
"use strict";

(() => {
  const params = new URLSearchParams(location.search);
  const keepLog = params.get("stamps") === "1";
  const ssimEvery = Math.max(0, parseInt(params.get("ssim_every") || "0", 10) || 0);
  const MAX_RECORDS = 100000, MAX_SAMPLES = 200;
  const SHOW_EVERY_MS = 250, UNKNOWN_AFTER_MS = 1000;
  const frameAge = { log: [], samples: [], ageMs: null, stamped: 0, unstamped: 0 };
  window.frameAge = frameAge;

  function capturedMs(source, id, shownMs) {  // as peer/source.py SourceClock.captured_at
    if (!source || typeof source.t0 !== "number" || !(source.fps > 0)) return null;
    const first = source.t0 * 1000 + (id * 1000) / source.fps;
    if (!source.loop_frames) return first;
    const periodMs = (source.loop_frames * 1000) / source.fps;
    return first + Math.max(0, Math.floor((shownMs - first) / periodMs)) * periodMs;
  }

  function lumaBase64(video, canvas, context) {
    const width = video.videoWidth, height = video.videoHeight;
    canvas.width = width;
    canvas.height = height;
    context.drawImage(video, 0, 0);
    const rgba = context.getImageData(0, 0, width, height).data;
    const luma = new Uint8Array(width * height);
    for (let p = 0, i = 0; p < luma.length; p++, i += 4) {
      luma[p] = Math.round(16 + (65.481 * rgba[i] + 128.553 * rgba[i + 1] + 24.966 * rgba[i + 2]) / 255);
    }
    let text = "";
    for (let k = 0; k < luma.length; k += 0x8000) {
      text += String.fromCharCode.apply(null, luma.subarray(k, k + 0x8000));
    }
    return btoa(text);
  }

  function watch(video, label) {
    if (!("requestVideoFrameCallback" in HTMLVideoElement.prototype)) {
      label.textContent = "age unknown (this browser has no requestVideoFrameCallback)";
      return;
    }
    const readStamp = window.rtvcStamp.makeReader();
    const canvas = document.createElement("canvas");
    const context = canvas.getContext("2d", { willReadFrequently: true });
    let lastStampedAt = -Infinity, lastShownAt = -Infinity;
    const onFrame = (now, meta) => {
      const id = readStamp(video);
      const shownMs = performance.timeOrigin + meta.expectedDisplayTime;
      const source = window.callState ? window.callState.remoteSource : null;
      const captured = id === null ? null : capturedMs(source, id, shownMs);
      const ageMs = captured === null ? null : shownMs - captured;
      if (id === null) frameAge.unstamped++; else frameAge.stamped++;
      if (ageMs !== null) lastStampedAt = now;
      frameAge.ageMs = now - lastStampedAt > UNKNOWN_AFTER_MS ? null : (ageMs ?? frameAge.ageMs);
      if (keepLog && frameAge.log.length < MAX_RECORDS) {
        const record = { id, wallShown: shownMs, wallPresented: performance.timeOrigin + meta.presentationTime,
                         now, presentedFrames: meta.presentedFrames, ageMs };
        frameAge.log.push(record);
        if (ssimEvery && id !== null && frameAge.stamped % ssimEvery === 0
            && frameAge.samples.length < MAX_SAMPLES) {
          frameAge.samples.push({ id, wallShown: shownMs, width: video.videoWidth,
                                  height: video.videoHeight, luma: lumaBase64(video, canvas, context) });
        }
      }
      if (now - lastShownAt >= SHOW_EVERY_MS) {
        lastShownAt = now;
        label.textContent = frameAge.ageMs === null ? "age unknown"
          : `what you see is ${Math.round(frameAge.ageMs)} ms old`;
      }
      video.requestVideoFrameCallback(onFrame);
    };
    video.requestVideoFrameCallback(onFrame);
  }

  watch(document.getElementById("remote"), document.getElementById("age"));
})();
