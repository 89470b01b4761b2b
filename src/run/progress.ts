// A one-line progress bar on a terminal (epoch, step, loss, accuracy, images/s, ETA);
// quiet when output is not a TTY (and in a browser), where only the per-epoch summary lines are
// printed.

interface Terminal {
  isTTY?: boolean;
  columns?: number;
  write(text: string): unknown;
}

const stderr: Terminal | null = typeof process !== 'undefined' && process.stderr ? process.stderr : null;

export class Progress {
  private readonly tty: boolean;
  private started = Date.now();
  private lastDraw = 0;

  constructor(private total: number, private label = '', private out: Terminal | null = stderr) {
    this.tty = !!out?.isTTY && !process.env.CI;
  }

  /** `done` steps of `total`; fields are shown as key value. */
  update(done: number, fields: Record<string, string | number>): void {
    if (!this.tty) return;
    const now = Date.now();
    if (now - this.lastDraw < 100 && done < this.total) return;
    this.lastDraw = now;
    const width = 24;
    const filled = Math.round((width * done) / Math.max(1, this.total));
    const elapsed = (now - this.started) / 1000;
    const eta = done > 0 ? (elapsed / done) * (this.total - done) : 0;
    const text = Object.entries(fields).map(([k, v]) => `${k} ${typeof v === 'number' ? fmtNum(v) : v}`).join('  ');
    const line = `${this.label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${this.total}  ${text}  eta ${fmtTime(eta)}`;
    this.out!.write(`\r${line.slice(0, (this.out!.columns ?? 160) - 1)}\x1b[K`);
  }

  /** Ends the bar's line. */
  done(): void {
    if (this.tty) this.out!.write('\r\x1b[K');
  }
}

export function fmtNum(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (Number.isInteger(v)) return String(v);
  return Math.abs(v) >= 100 ? v.toFixed(1) : Math.abs(v) >= 1 ? v.toFixed(3) : v.toPrecision(3);
}

export function fmtTime(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
  return h ? `${h}h${String(m).padStart(2, '0')}m` : m ? `${m}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}
