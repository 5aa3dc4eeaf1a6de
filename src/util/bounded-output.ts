import { cleanText } from "./clean-text.js";

/**
 * Keeps the first `headBytes` and the last `tailBytes` of a stream, so a test that prints gigabytes
 * costs a fixed amount of memory while the start (setup errors) and the end (the failure) survive.
 */
export class BoundedOutput {
  private readonly head: Buffer[] = [];
  private headSize = 0;
  private tail: Buffer[] = [];
  private tailSize = 0;
  total = 0;

  constructor(
    private readonly headBytes: number,
    private readonly tailBytes: number,
  ) {}

  push(chunk: Buffer): void {
    this.total += chunk.length;
    let rest = chunk;
    if (this.headSize < this.headBytes) {
      const take = Math.min(this.headBytes - this.headSize, rest.length);
      // Copy: a subarray would pin the whole pipe chunk (64 KiB) for the life of the attempt record.
      this.head.push(Buffer.from(rest.subarray(0, take)));
      this.headSize += take;
      rest = rest.subarray(take);
    }
    if (rest.length === 0 || this.tailBytes === 0) return;
    // Copy: the caller's chunk may be a slice of a large pooled buffer we must not pin.
    this.tail.push(Buffer.from(rest.subarray(Math.max(0, rest.length - this.tailBytes))));
    this.tailSize += Math.min(rest.length, this.tailBytes);
    while (this.tail.length > 1 && this.tailSize - (this.tail[0] as Buffer).length >= this.tailBytes) {
      this.tailSize -= (this.tail.shift() as Buffer).length;
    }
  }

  /** Bytes dropped between head and tail. */
  get omitted(): number {
    return Math.max(0, this.total - this.headSize - Math.min(this.tailSize, this.tailBytes));
  }

  /**
   * Head and tail as text, cleaned of escape sequences and control characters. `mask` sees each
   * cleaned piece that was cut on its own, so a secret split by the cut can still be recognised.
   */
  text(mask: (piece: string) => string = (s) => s): string {
    const head = Buffer.concat(this.head).toString("utf8");
    let tailBuf = Buffer.concat(this.tail);
    if (tailBuf.length > this.tailBytes) tailBuf = tailBuf.subarray(tailBuf.length - this.tailBytes);
    const tail = tailBuf.toString("utf8");
    if (this.omitted === 0) return mask(cleanText(head + tail));
    return `${mask(cleanText(head))}\n[… ${this.omitted} bytes of output omitted …]\n${mask(cleanText(tail))}`;
  }
}
