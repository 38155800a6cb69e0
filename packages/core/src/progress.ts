// A progress bar for long work on stderr: a redrawn line on a terminal, a plain line every few
// seconds otherwise (logs, CI). Shows done/total, rate, ETA and caller-supplied metrics.

export interface ProgressOptions {
  /** Units of work in all; 0 when unknown (then no bar or ETA is shown). */
  total: number;
  label?: string;
  /** Unit shown in the rate, e.g. 'step', 'img', 'tok'. */
  unit?: string;
  stream?: NodeJS.WriteStream;
  /** Seconds between plain lines when not on a terminal. */
  plainIntervalSec?: number;
  /** Silences all output (tests, --json). */
  quiet?: boolean;
}

export class Progress {
  private done = 0;
  /** Count at construction or the last set(): the rate counts only work done since then. */
  private base = 0;
  private start = Date.now();
  private lastDraw = 0;
  private drawnAt = -1;
  private metrics = '';
  private readonly tty: boolean;
  private readonly stream: NodeJS.WriteStream;

  constructor(private readonly opts: ProgressOptions) {
    this.stream = opts.stream ?? process.stderr;
    this.tty = Boolean(this.stream.isTTY);
  }

  /** Sets the absolute count (e.g. after a resume) without counting it as speed. */
  set(done: number): void {
    this.done = done;
    this.base = done;
    this.start = Date.now();
  }

  tick(n = 1, metrics?: Record<string, string | number>): void {
    this.done += n;
    if (metrics) this.metrics = formatMetrics(metrics);
    const now = Date.now();
    const interval = this.tty ? 100 : (this.opts.plainIntervalSec ?? 10) * 1000;
    if (now - this.lastDraw >= interval || (this.opts.total > 0 && this.done >= this.opts.total)) {
      this.lastDraw = now;
      this.draw();
    }
  }

  finish(message?: string): void {
    if (this.opts.quiet) return;
    if (this.drawnAt !== this.done) this.draw();
    if (this.tty) this.stream.write('\n');
    if (message) this.stream.write(message + '\n');
  }

  private draw(): void {
    if (this.opts.quiet) return;
    this.drawnAt = this.done;
    const { total, label = '', unit = 'it' } = this.opts;
    const elapsed = (Date.now() - this.start) / 1000;
    const rate = elapsed > 0 ? (this.done - this.base) / elapsed : 0;
    const frac = total > 0 ? Math.min(1, this.done / total) : 0;
    const eta = this.done >= total ? 0 : rate > 0 ? (total - this.done) / rate : Infinity;
    const width = 24;
    const filled = Math.round(frac * width);
    const bar = '█'.repeat(filled) + '░'.repeat(width - filled);
    const rateText = `${rate >= 10 ? rate.toFixed(0) : rate.toFixed(2)} ${unit}/s`;
    // A total of 0 means unknown (a streamed source): count and rate, no bar or ETA.
    const head = total > 0 ? `${bar} ${this.done}/${total} ${rateText} ETA ${formatDuration(eta)}` : `${this.done} ${unit} ${rateText} ${formatDuration(elapsed)}`;
    const line = `${label ? label + ' ' : ''}${head}${this.metrics ? ' ' + this.metrics : ''}`;
    if (this.tty) this.stream.write('\r\x1b[2K' + line);
    else this.stream.write(line + '\n');
  }
}

export function formatMetrics(metrics: Record<string, string | number>): string {
  return Object.entries(metrics)
    .map(([k, v]) => `${k}=${typeof v === 'number' ? (Math.abs(v) >= 100 ? v.toFixed(0) : v.toPrecision(4)) : v}`)
    .join(' ');
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '--';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : m > 0 ? `${m}m${String(r).padStart(2, '0')}s` : `${r}s`;
}
