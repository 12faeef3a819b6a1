/**
 * Counts HTTP/1.1 requests in the client-to-server byte stream of one connection, fed in pieces of
 * any size. It only finds message boundaries (RFC 9112 section 6: a request has a body only with
 * `Content-Length` or `Transfer-Encoding: chunked`); it never changes a byte, since the proxy
 * forwards the stream as it is. A stream it cannot follow (an `Upgrade`, a head over 64 KiB, a bad
 * chunk size) is counted as opaque from there on and still forwarded.
 * @module
 */

/** One request seen on the connection. */
export interface SeenRequest {
  /** Request method, e.g. `GET`. */
  readonly method: string;
  /** Request target, e.g. `/v1/models/a/b/container`. */
  readonly target: string;
  /** The `Range` header, if any. */
  readonly range: string | null;
}

/** The incremental counter of one connection. */
export interface RequestCounter {
  /** Feeds the next bytes of the stream; returns the requests whose heads completed in them. */
  feed(bytes: Uint8Array): SeenRequest[];
  /** Whether the stream stopped being parseable (the count is then a lower bound). */
  readonly opaque: boolean;
}

const MAX_HEAD = 64 << 10;

type State =
  | { kind: "head" }
  | { kind: "body"; left: number }
  | { kind: "chunk-size" }
  | { kind: "chunk-data"; left: number }
  | { kind: "chunk-crlf"; left: number }
  | { kind: "trailers" }
  | { kind: "opaque" };

/**
 * A counter for a fresh connection.
 *
 * @example
 * ```ts
 * import { requestCounter } from "./request_counter.ts";
 * const c = requestCounter();
 * const bytes = new TextEncoder().encode("GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\n");
 * c.feed(bytes).map((r) => r.target); // ["/a"]: the second head is not complete yet
 * ```
 */
export function requestCounter(): RequestCounter {
  let state: State = { kind: "head" };
  // Bytes of the current line-oriented unit (head, chunk-size line, trailers) not yet complete.
  let pending = "";
  const decoder = new TextDecoder("latin1");

  const startHead = (head: string): SeenRequest | null => {
    const lines = head.split("\r\n");
    const [method = "", target = ""] = lines[0].split(" ");
    let length = 0, chunked = false, upgrade = false, range: string | null = null;
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(":");
      if (colon <= 0) continue;
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      if (name === "content-length") length = Number(value);
      else if (name === "transfer-encoding") chunked = /(^|,)\s*chunked\s*$/i.test(value);
      else if (name === "upgrade") upgrade = true;
      else if (name === "range") range = value;
    }
    if (!/^[A-Z]+$/.test(method) || upgrade || method === "CONNECT") state = { kind: "opaque" };
    else if (chunked) state = { kind: "chunk-size" };
    else if (Number.isSafeInteger(length) && length > 0) state = { kind: "body", left: length };
    else if (!(Number.isSafeInteger(length) && length >= 0)) state = { kind: "opaque" };
    else state = { kind: "head" };
    return method ? { method, target, range } : null;
  };

  return {
    get opaque() {
      return state.kind === "opaque";
    },
    feed(bytes) {
      const seen: SeenRequest[] = [];
      let i = 0;
      while (i < bytes.length && state.kind !== "opaque") {
        if (state.kind === "body" || state.kind === "chunk-data" || state.kind === "chunk-crlf") {
          const n = Math.min(state.left, bytes.length - i);
          i += n;
          state = { ...state, left: state.left - n };
          if (state.left > 0) continue;
          if (state.kind === "body") state = { kind: "head" };
          else if (state.kind === "chunk-data") state = { kind: "chunk-crlf", left: 2 };
          else state = { kind: "chunk-size" };
          continue;
        }
        // Line-oriented states: gather text up to the terminator.
        const terminator = state.kind === "head" ? "\r\n\r\n" : "\r\n";
        const from = Math.max(0, pending.length - terminator.length + 1);
        const take = Math.min(bytes.length - i, MAX_HEAD + 4 - pending.length);
        pending += decoder.decode(bytes.subarray(i, i + take));
        const end = pending.indexOf(terminator, from);
        if (end < 0) {
          i += take;
          if (pending.length > MAX_HEAD) state = { kind: "opaque" };
          continue;
        }
        // Consume exactly up to the terminator; the rest of `pending` is handed back to `bytes`.
        const unit = pending.slice(0, end);
        i += take - (pending.length - end - terminator.length);
        pending = "";
        if (state.kind === "head") {
          // Empty lines before a request line are ignored (RFC 9112 section 2.2).
          const r = startHead(unit.replace(/^(\r\n)+/, ""));
          if (r) seen.push(r);
        } else if (state.kind === "chunk-size") {
          const size = parseInt(unit.split(";")[0].trim(), 16);
          if (!Number.isSafeInteger(size) || size < 0) state = { kind: "opaque" };
          else if (size === 0) state = { kind: "trailers" };
          else state = { kind: "chunk-data", left: size };
        } else if (unit === "") {
          state = { kind: "head" }; // the trailer section ends with an empty line
        }
      }
      return seen;
    },
  };
}
