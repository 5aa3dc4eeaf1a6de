import type { Writable } from "node:stream";
import { StringDecoder } from "node:string_decoder";
import type { Masker } from "./secrets.js";

/**
 * A log file with secrets masked as it is written. Text is held back until a line ends, so a
 * secret split across two pipe chunks is still recognised; a line longer than LINE_LIMIT is
 * written in pieces cut where no secret can straddle the cut, so even then none slips through.
 */
const LINE_LIMIT = 64 * 1024;

export class MaskingWriter {
  private readonly decoder = new StringDecoder("utf8");
  private pending = "";

  constructor(
    private readonly out: Writable,
    private readonly masker: Masker,
  ) {}

  write(chunk: Buffer): void {
    if (!this.masker.active) {
      this.out.write(chunk);
      return;
    }
    this.pending += this.decoder.write(chunk);
    const cut = this.pending.lastIndexOf("\n") + 1;
    if (cut > 0) {
      this.out.write(this.masker.text(this.pending.slice(0, cut)));
      this.pending = this.pending.slice(cut);
    }
    if (this.pending.length > LINE_LIMIT) {
      const cut = this.masker.safeCut(this.pending, Math.max(0, this.masker.longest - 1));
      this.out.write(this.masker.text(this.pending.slice(0, cut)));
      this.pending = this.pending.slice(cut);
    }
  }

  end(done: () => void): void {
    const rest = this.pending + (this.masker.active ? this.decoder.end() : "");
    this.pending = "";
    this.out.end(rest === "" ? undefined : this.masker.text(rest), done);
  }
}
