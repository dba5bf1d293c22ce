// Injected into the demo page by experiments/chrome_sender.py (not part of the page itself).
// Reads the frame stamp (peer/stamp.py's layout) from every frame the local preview
// (#local) presents, with the capture time Chromium gives that frame, so the harness can
// anchor the browser's capture clock: t0 = capture time - frame number / fps.
// The stamp reader is the page's own (signaling/static/stamp.js), loaded before DOMContentLoaded.
(() => {
  const log = [];
  window.stampLog = log;
  function watch(video) {
    const readStamp = window.rtvcStamp.makeReader();
    const onFrame = (now, meta) => {
      const id = readStamp(video);
      if (id !== null && log.length < 100000) {
        const captured = meta.captureTime ?? null;
        log.push({ id, captureTime: captured, expectedDisplayTime: meta.expectedDisplayTime,
                   now, wallCapture: captured === null ? null : performance.timeOrigin + captured,
                   wallNow: performance.timeOrigin + now });
      }
      video.requestVideoFrameCallback(onFrame);
    };
    video.requestVideoFrameCallback(onFrame);
  }

  document.addEventListener("DOMContentLoaded", () => watch(document.getElementById("local")));
})();
