// The frame-stamp reader (peer/stamp.py's layout: 17 x 2 cells at the top left, a white and a
// black reference cell, 24 bits of frame number and a CRC-8). Shared by the page's live age
// (frame_age.js) and the harness's scripts (experiments/chrome_stamp.js): one reader, one
// definition of "this frame carries stamp N".
"use strict";

(() => {
  const COLUMNS = 17, ROWS = 2, CELL_FRACTION = 24 / 640, DATA_BITS = 32;
  const MIN_CONTRAST = (235 - 16) * 0.3, MIN_MARGIN = 0.12;

  function crc8(bytes) {  // CRC-8/ATM, as peer/stamp.py
    let crc = 0;
    for (const byte of bytes) {
      crc ^= byte;
      for (let i = 0; i < 8; i++) crc = crc & 0x80 ? ((crc << 1) ^ 0x07) & 0xff : (crc << 1) & 0xff;
    }
    return crc;
  }

  function cellMean(pixels, width, row, column, cell) {  // inner half of a cell, luma
    const y0 = Math.round((row + 0.25) * cell), y1 = Math.max(y0 + 1, Math.round((row + 0.75) * cell));
    const x0 = Math.round((column + 0.25) * cell), x1 = Math.max(x0 + 1, Math.round((column + 0.75) * cell));
    let sum = 0, count = 0;
    for (let y = y0; y < y1; y++) {
      for (let x = x0; x < x1; x++) {
        const i = (y * width + x) * 4;
        sum += 0.299 * pixels[i] + 0.587 * pixels[i + 1] + 0.114 * pixels[i + 2];
        count++;
      }
    }
    return sum / count;
  }

  // A reader owns its canvas, so two readers (the page's and the harness's) never share one.
  function makeReader() {
    const canvas = document.createElement("canvas");
    const context = canvas.getContext("2d", { willReadFrequently: true });
    // The stamp of the frame `video` shows now, or null (no stamp: a camera, or unreadable).
    return (video) => {
      const width = video.videoWidth, height = video.videoHeight;
      if (!width || !height) return null;
      const cell = width * CELL_FRACTION;
      const rows = Math.min(height, Math.ceil(cell * ROWS));
      canvas.width = width;
      canvas.height = rows;
      context.drawImage(video, 0, 0, width, rows, 0, 0, width, rows);
      const pixels = context.getImageData(0, 0, width, rows).data;
      const white = cellMean(pixels, width, 0, 0, cell), black = cellMean(pixels, width, 1, 0, cell);
      const contrast = white - black;
      if (contrast < MIN_CONTRAST) return null;
      const threshold = (white + black) / 2;
      let word = 0;
      for (let index = 0; index < DATA_BITS; index++) {
        const row = Math.floor(index / (COLUMNS - 1)), column = 1 + (index % (COLUMNS - 1));
        const mean = cellMean(pixels, width, row, column, cell);
        if (Math.abs(mean - threshold) < MIN_MARGIN * contrast) return null;
        word = word * 2 + (mean > threshold ? 1 : 0);
      }
      const value = Math.floor(word / 256), check = word % 256;
      return crc8([(value >> 16) & 0xff, (value >> 8) & 0xff, value & 0xff]) === check ? value : null;
    };
  }

  window.rtvcStamp = { makeReader };
})();
