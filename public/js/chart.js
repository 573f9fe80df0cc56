/**
 * A small canvas line chart of a RateWindow series: kbit/s on the left axis, events received and
 * dropped per second on the right, the last 60 s from left (oldest) to right (now).
 */
const COLORS = { kbps: '#4fb3ff', received: '#3fcf8e', dropped: '#ff6b6b', grid: '#2a3440', text: '#8a96a3' };
const PAD = { left: 48, right: 40, top: 22, bottom: 20 };

/** A round upper bound for an axis (1, 2, 5 × 10^n). */
function niceMax(value) {
  if (value <= 0) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  return [1, 2, 5, 10].map((step) => step * power).find((bound) => bound >= value);
}

export class LiveChart {
  #canvas;
  #context;

  constructor(canvas) {
    this.#canvas = canvas;
    this.#context = canvas.getContext('2d');
  }

  /** Draws `points` ({kbps, received, dropped} per second, oldest first). */
  draw(points) {
    const ratio = globalThis.devicePixelRatio ?? 1;
    const width = this.#canvas.clientWidth;
    const height = this.#canvas.clientHeight;
    if (this.#canvas.width !== Math.round(width * ratio)) this.#canvas.width = Math.round(width * ratio);
    if (this.#canvas.height !== Math.round(height * ratio)) this.#canvas.height = Math.round(height * ratio);
    const g = this.#context;
    g.setTransform(ratio, 0, 0, ratio, 0, 0);
    g.clearRect(0, 0, width, height);
    const plotW = width - PAD.left - PAD.right;
    const plotH = height - PAD.top - PAD.bottom;
    const kbpsMax = niceMax(Math.max(...points.map((p) => p.kbps)));
    const eventsMax = niceMax(Math.max(...points.map((p) => Math.max(p.received, p.dropped))));
    const x = (i) => PAD.left + (points.length <= 1 ? plotW : (i / (points.length - 1)) * plotW);
    const y = (value, max) => PAD.top + plotH - (value / max) * plotH;

    g.font = '11px system-ui, sans-serif';
    g.lineWidth = 1;
    g.strokeStyle = COLORS.grid;
    g.fillStyle = COLORS.text;
    for (let i = 0; i <= 4; i++) {
      const gy = PAD.top + (i / 4) * plotH;
      g.beginPath();
      g.moveTo(PAD.left, gy);
      g.lineTo(PAD.left + plotW, gy);
      g.stroke();
      g.textAlign = 'right';
      g.fillText(String(Math.round((kbpsMax * (4 - i)) / 4)), PAD.left - 6, gy + 4);
      g.textAlign = 'left';
      g.fillText(String(+((eventsMax * (4 - i)) / 4).toFixed(1)), PAD.left + plotW + 6, gy + 4);
    }
    g.textAlign = 'left';
    g.fillText(`-${points.length} s`, PAD.left, height - 4);
    g.textAlign = 'right';
    g.fillText('now', PAD.left + plotW, height - 4);

    const line = (key, max, color) => {
      g.strokeStyle = color;
      g.lineWidth = 2;
      g.beginPath();
      points.forEach((point, i) => (i === 0 ? g.moveTo(x(i), y(point[key], max)) : g.lineTo(x(i), y(point[key], max))));
      g.stroke();
    };
    line('kbps', kbpsMax, COLORS.kbps);
    line('received', eventsMax, COLORS.received);
    line('dropped', eventsMax, COLORS.dropped);

    const last = points.at(-1) ?? { kbps: 0, received: 0, dropped: 0 };
    const legend = [
      [COLORS.kbps, `kbit/s ${Math.round(last.kbps)}`],
      [COLORS.received, `received/s ${last.received}`],
      [COLORS.dropped, `dropped/s ${last.dropped}`],
    ];
    let lx = PAD.left;
    g.textAlign = 'left';
    for (const [color, label] of legend) {
      g.fillStyle = color;
      g.fillRect(lx, 6, 10, 10);
      g.fillStyle = COLORS.text;
      g.fillText(label, lx + 14, 15);
      lx += g.measureText(label).width + 32;
    }
  }
}
