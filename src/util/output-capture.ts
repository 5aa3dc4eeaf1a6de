import { randomUUID } from "node:crypto";
import {
  closeSync,
  createWriteStream,
  fstatSync,
  ftruncateSync,
  openSync,
  readSync,
  rmSync,
  unlinkSync,
} from "node:fs";
import { join } from "node:path";
import { cleanText } from "./clean-text.js";
import { MaskingWriter } from "./masking-writer.js";
import type { Masker } from "./secrets.js";
import { createOwnedDir, removeOwnedDir } from "./temp-dirs.js";

/**
 * A program's output written straight to a file the program holds as its stdout and stderr, read
 * back (head and tail) once it ends. Nothing of the output passes through our process while it
 * runs: a job of 1,000 attempts printing 1 MB each used to stream 1 GB of pipe chunks through the
 * heap (peak RSS ~150 MB, mostly buffers awaiting collection); now it costs two small reads per
 * attempt. Both streams share one file opened for appending, so their lines keep the order in
 * which they were written, as in a terminal.
 *
 * The file is bounded: `trim()` (called periodically while the program runs) keeps the head and
 * the latest tail once the file passes `trimAt` bytes and empties it; the program's next writes go
 * to the new end (O_APPEND). Bytes between the head and the tail are dropped, as they always were.
 * With a log file wanted, nothing is trimmed and the whole output is saved there, masked.
 */
/** The first and the last bytes of an output, and how many it had in all. */
export interface HeadTail {
  head: Buffer;
  tail: Buffer;
  total: number;
}

export class OutputCapture {
  readonly path: string;
  readonly fd: number;
  private savedHead: Buffer | null = null;
  private savedTail: Buffer = Buffer.alloc(0);
  private dropped = 0;

  constructor(
    private readonly headBytes: number,
    private readonly tailBytes: number,
    private readonly trimAt: number,
    dir?: string,
  ) {
    let path = join(dir ?? captureDir(), `${randomUUID()}.log`);
    let fd: number;
    try {
      fd = openSync(path, "a+");
    } catch (e) {
      // Our directory was removed under us (a temp cleaner): make a new one. Checking first would
      // cost a system call before every attempt.
      if (dir !== undefined || (e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
      path = join(captureDir(true), `${randomUUID()}.log`);
      fd = openSync(path, "a+");
    }
    this.path = path;
    this.fd = fd;
    live.add(this.path);
  }

  /** Once past the bound: keep the first head bytes and the latest tail, then start the file over. */
  trim(): void {
    if (!Number.isFinite(this.trimAt)) return;
    const size = fstatSync(this.fd).size;
    if (size <= this.trimAt) return;
    this.savedHead ??= readAt(this.fd, 0, this.headBytes);
    this.savedTail = readAt(this.fd, Math.max(0, size - this.tailBytes), this.tailBytes);
    // Bytes the program writes between the read above and the truncation are lost; they would have
    // been dropped as the middle of the output anyway unless the program ends within that instant.
    ftruncateSync(this.fd, 0);
    this.dropped += size;
  }

  /** Head and tail, and how many bytes the program wrote in all. */
  read(): HeadTail {
    const size = fstatSync(this.fd).size;
    return headAndTail(
      this.fd,
      size,
      this.headBytes,
      this.tailBytes,
      this.savedHead,
      this.savedTail,
      this.dropped,
    );
  }

  /** The whole output, masked, to `logFile` (only meaningful when nothing was trimmed). */
  async saveAs(logFile: string, masker: Masker): Promise<void> {
    const writer = new MaskingWriter(createWriteStream(logFile), masker);
    const buf = Buffer.allocUnsafe(64 * 1024);
    let pos = 0;
    for (;;) {
      const n = readSync(this.fd, buf, 0, buf.length, pos);
      if (n === 0) break;
      writer.write(Buffer.from(buf.subarray(0, n)));
      pos += n;
    }
    await new Promise<void>((resolve) => writer.end(resolve));
  }

  remove(): void {
    try {
      closeSync(this.fd);
    } catch {
      // Already closed.
    }
    // One unlink, not rmSync's walk (an lstat and its rimraf wrapper): this runs after every attempt.
    try {
      unlinkSync(this.path);
    } catch {
      // Already gone.
    }
    live.delete(this.path);
  }
}

/** Head and tail of a file that is kept whole (a results file on stdout), without reading the middle. */
export function readHeadAndTail(file: string, headBytes: number, tailBytes: number): HeadTail {
  let fd: number;
  try {
    fd = openSync(file, "r");
  } catch {
    return { head: Buffer.alloc(0), tail: Buffer.alloc(0), total: 0 };
  }
  try {
    return headAndTail(fd, fstatSync(fd).size, headBytes, tailBytes, null, Buffer.alloc(0), 0);
  } finally {
    closeSync(fd);
  }
}

function headAndTail(
  fd: number,
  size: number,
  headBytes: number,
  tailBytes: number,
  savedHead: Buffer | null,
  savedTail: Buffer,
  dropped: number,
): HeadTail {
  const total = dropped + size;
  if (savedHead === null) {
    const head = readAt(fd, 0, Math.min(headBytes, size));
    const from = Math.max(head.length, size - tailBytes);
    return { head, tail: readAt(fd, from, size - from), total };
  }
  // Trimmed: the tail is the end of what was dropped followed by what came since, cut to size.
  const recent = readAt(fd, Math.max(0, size - tailBytes), Math.min(size, tailBytes));
  const tail = Buffer.concat([savedTail, recent]);
  return { head: savedHead, tail: tail.subarray(Math.max(0, tail.length - tailBytes)), total };
}

function readAt(fd: number, position: number, length: number): Buffer {
  if (length <= 0) return Buffer.alloc(0);
  const buf = Buffer.alloc(length);
  let got = 0;
  while (got < length) {
    const n = readSync(fd, buf, got, length - got, position + got);
    if (n === 0) break;
    got += n;
  }
  return buf.subarray(0, got);
}

/**
 * Head and tail as text, cleaned of escape sequences and control characters, with the number of
 * bytes left out between them. `mask` sees each piece on its own, so a secret split by the cut
 * can still be recognised.
 */
export function headTailText(part: HeadTail, mask: (piece: string) => string = (s) => s): string {
  const omitted = part.total - part.head.length - part.tail.length;
  const head = part.head.toString("utf8");
  const tail = part.tail.toString("utf8");
  if (omitted <= 0) return mask(cleanText(head + tail));
  return `${mask(cleanText(head))}\n[… ${omitted} bytes of output omitted …]\n${mask(cleanText(tail))}`;
}

/** Capture files of programs still running. */
const live = new Set<string>();

/**
 * One directory per process for capture files, with an owner file (util/temp-dirs.ts): removed
 * when we exit, and by the next server's sweep if we are killed with -9 mid-attempt.
 */
let dirOfProcess: string | undefined;
function captureDir(fresh = false): string {
  if (dirOfProcess !== undefined && !fresh) return dirOfProcess;
  const dir = createOwnedDir("output");
  dirOfProcess = dir;
  process.once("exit", () => {
    for (const path of live) rmSync(path, { force: true });
    removeOwnedDir(dir);
  });
  return dir;
}
