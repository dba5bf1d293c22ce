// Small rolling line charts on <canvas>, no libraries: one Sparkline per call statistic.
"use strict";

class Sparkline {
  constructor(parent, label, unit, color, windowPoints = 60) {
    this.label = label;
    this.unit = unit;
    this.color = color;
    this.windowPoints = windowPoints;
    this.values = [];
    this.canvas = document.createElement("canvas");
    this.canvas.width = 220;
    this.canvas.height = 70;
    this.canvas.title = label;
    parent.appendChild(this.canvas);
  }

  push(value) {
    this.values.push(Number.isFinite(value) ? value : null);
    if (this.values.length > this.windowPoints) this.values.shift();
    this.draw();
  }

  draw() {
    const ctx = this.canvas.getContext("2d");
    const { width, height } = this.canvas;
    const top = 18, bottom = height - 4;
    ctx.clearRect(0, 0, width, height);
    const known = this.values.filter((v) => v !== null);
    const max = Math.max(1e-9, ...known) * 1.15;
    ctx.strokeStyle = "#333";
    ctx.beginPath();
    ctx.moveTo(0, bottom + 0.5);
    ctx.lineTo(width, bottom + 0.5);
    ctx.stroke();
    ctx.strokeStyle = this.color;
    ctx.lineWidth = 1.5;
    ctx.beginPath();
    let pen = false;
    this.values.forEach((v, i) => {
      if (v === null) { pen = false; return; }
      const x = (i / (this.windowPoints - 1)) * width;
      const y = bottom - (v / max) * (bottom - top);
      if (pen) ctx.lineTo(x, y); else ctx.moveTo(x, y);
      pen = true;
    });
    ctx.stroke();
    const last = this.values.length ? this.values[this.values.length - 1] : null;
    ctx.fillStyle = "#ddd";
    ctx.font = "12px system-ui, sans-serif";
    const shown = last === null ? "–" : (Math.abs(last) >= 100 ? last.toFixed(0) : last.toFixed(1));
    ctx.fillText(`${this.label}: ${shown} ${this.unit}`, 4, 13);
    ctx.fillStyle = "#777";
    ctx.fillText(`max ${(max / 1.15).toFixed(0)}`, width - 60, 13);
  }
}

window.Sparkline = Sparkline;
