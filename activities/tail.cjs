// @ts-check
/** The tail of a stream kept in memory: shared by the launcher thread (processes' output) and HTTP actions. */
'use strict';

/** A bounded tail of a stream: the last `limit` bytes, and how many were dropped before them. */
class Tail {
  /** @param {number} limit */
  constructor(limit) {
    this.limit = limit;
    /** @type {Buffer[]} */
    this.chunks = [];
    this.size = 0;
    this.cut = 0;
  }

  /** @param {Buffer} chunk */
  push(chunk) {
    this.chunks.push(chunk);
    this.size += chunk.length;
    while (this.size > this.limit && this.chunks.length > 0) {
      const first = /** @type {Buffer} */ (this.chunks[0]);
      const excess = this.size - this.limit;
      if (first.length <= excess) {
        this.chunks.shift();
        this.size -= first.length;
        this.cut += first.length;
      } else {
        this.chunks[0] = first.subarray(excess);
        this.size -= excess;
        this.cut += excess;
      }
    }
  }

  text() {
    return Buffer.concat(this.chunks).toString('utf8');
  }
}

module.exports = { Tail };
