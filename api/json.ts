/**
 * A JSON writer that puts bytes straight into a buffer: the list-sessions route writes a page of
 * sessions with it instead of building 100 view objects and a JSON string that the HTTP server then
 * encodes to UTF-8 again (docs/api.md#benchmark). ASCII strings that need no escaping, nearly every
 * value a session holds, are copied a character at a time; anything else goes through
 * JSON.stringify, so the output is always what JSON.stringify gives.
 *
 * One scratch buffer is reused for every document (a document is written synchronously, start to
 * `finish`); `finish` returns an exact-size copy that the response owns.
 */
const QUOTE = 34;
const BACKSLASH = 92;

export class JsonBytes {
  private buf: Buffer;
  private pos = 0;

  constructor(private initialSize = 64 * 1024) {
    this.buf = Buffer.allocUnsafe(initialSize);
  }

  /**
   * Starts a new document (drops whatever was written). A scratch buffer that one large document
   * grew beyond 1 MiB (a page of 1,000 long, escaped values) goes back to its initial size.
   */
  reset(): this {
    this.pos = 0;
    if (this.buf.length > 1 << 20) this.buf = Buffer.allocUnsafe(this.initialSize);
    return this;
  }

  private room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(bigger, 0, 0, this.pos);
    this.buf = bigger;
  }

  /** Text that is already JSON and ASCII: punctuation, property names with their quotes, numbers, literals. */
  raw(text: string): void {
    const n = text.length;
    this.room(n);
    const b = this.buf;
    let p = this.pos;
    for (let i = 0; i < n; i++) b[p++] = text.charCodeAt(i);
    this.pos = p;
  }

  /** One ASCII byte of JSON syntax. */
  byte(c: number): void {
    this.room(1);
    this.buf[this.pos++] = c;
  }

  /** A string value, quoted and escaped exactly as JSON.stringify does. */
  string(v: string): void {
    const n = v.length;
    this.room(n + 2);
    const b = this.buf;
    let p = this.pos;
    b[p++] = QUOTE;
    for (let i = 0; i < n; i++) {
      const c = v.charCodeAt(i);
      if (c < 0x20 || c > 0x7e || c === QUOTE || c === BACKSLASH) return this.stringified(v);
      b[p++] = c;
    }
    b[p++] = QUOTE;
    this.pos = p;
  }

  private stringified(v: string): void {
    const json = JSON.stringify(v);
    this.room(Buffer.byteLength(json, "utf8"));
    this.pos += this.buf.write(json, this.pos, "utf8");
  }

  /** A non-negative integer below 2^53 (digits only). */
  uint(n: number): void {
    this.raw(String(n));
  }

  /** Two decimal digits, 0..99 zero-padded. */
  digits2(n: number): void {
    this.room(2);
    this.buf[this.pos++] = 48 + ((n / 10) | 0);
    this.buf[this.pos++] = 48 + (n % 10);
  }

  /** Three decimal digits, 0..999 zero-padded. */
  digits3(n: number): void {
    this.room(3);
    this.buf[this.pos++] = 48 + ((n / 100) | 0);
    this.buf[this.pos++] = 48 + (((n / 10) | 0) % 10);
    this.buf[this.pos++] = 48 + (n % 10);
  }

  /**
   * base64url (no padding) of an ASCII string's bytes, quoted; false, with nothing written, when
   * the string is not all ASCII.
   */
  base64urlAscii(text: string): boolean {
    const n = text.length;
    this.room(2 + Math.ceil((n * 4) / 3));
    const b = this.buf;
    const start = this.pos;
    let p = start;
    b[p++] = QUOTE;
    let i = 0;
    for (; i + 2 < n; i += 3) {
      const x = text.charCodeAt(i);
      const y = text.charCodeAt(i + 1);
      const z = text.charCodeAt(i + 2);
      if ((x | y | z) > 0x7f) return false;
      const v = (x << 16) | (y << 8) | z;
      b[p++] = B64URL[v >> 18];
      b[p++] = B64URL[(v >> 12) & 63];
      b[p++] = B64URL[(v >> 6) & 63];
      b[p++] = B64URL[v & 63];
    }
    if (i < n) {
      const x = text.charCodeAt(i);
      const y = i + 1 < n ? text.charCodeAt(i + 1) : 0;
      if ((x | y) > 0x7f) return false;
      const v = (x << 16) | (y << 8);
      b[p++] = B64URL[v >> 18];
      b[p++] = B64URL[(v >> 12) & 63];
      if (i + 1 < n) b[p++] = B64URL[(v >> 6) & 63];
    }
    b[p++] = QUOTE;
    this.pos = p;
    return true;
  }

  /** The document as a buffer of its own (the scratch buffer is reused by the next document). */
  finish(): Buffer<ArrayBuffer> {
    const out = Buffer.allocUnsafe(this.pos);
    this.buf.copy(out, 0, 0, this.pos);
    return out;
  }

  /** The document as text (for tests and callers that want a string). */
  text(): string {
    return this.buf.toString("utf8", 0, this.pos);
  }
}

const B64URL = Uint8Array.from("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", (c) => c.charCodeAt(0));
