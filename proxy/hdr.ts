// The slice of hdr-histogram-js the proxy uses: JS typed-array histograms and the V2 compressed
// base64 encoding. The package's index loads every implementation (WASM, packed, log readers) and
// costs about 12 MB of resident memory; these deep imports cost about 4 MB. The encoding is the
// standard V2 one (cookie 0x1c849304 | 0x10, length, zlib-deflated payload), so the controller side
// decodes it with the full package as before.

import { createRequire } from 'node:module';
import { inflateSync } from 'node:zlib';
import type { Histogram } from 'hdr-histogram-js';

const require = createRequire(import.meta.url);

interface HistogramCtor {
  new (lowest: number, highest: number, significantDigits: number): Histogram & { autoResize: boolean };
}

const Int32Histogram = (require('hdr-histogram-js/dist/Int32Histogram.js') as { default: HistogramCtor })
  .default;
const Float64Histogram = (require('hdr-histogram-js/dist/Float64Histogram.js') as { default: HistogramCtor })
  .default;
// Side effect: attaches encodeIntoCompressedBase64 to JsHistogram.prototype and JsHistogram.decode.
const { JsHistogram } = require('hdr-histogram-js/dist/JsHistogram.js') as {
  JsHistogram: { decode(data: Uint8Array, bitBucketSize: 32 | 64): Histogram };
};
require('hdr-histogram-js/dist/JsHistogram.encoding.js');

const V2_COMPRESSED_COOKIE_BASE = 0x1c849304;

export function createHistogram(
  bitBucketSize: 32 | 64,
  lowest: number,
  highest: number,
  significantDigits: number,
): Histogram {
  const Ctor = bitBucketSize === 32 ? Int32Histogram : Float64Histogram;
  const h = new Ctor(lowest, highest, significantDigits);
  h.autoResize = true;
  return h;
}

export function encodeCompressedBase64(histogram: Histogram): string {
  return (histogram as Histogram & { encodeIntoCompressedBase64(): string }).encodeIntoCompressedBase64();
}

export function decodeCompressedBase64(encoded: string, bitBucketSize: 32 | 64): Histogram {
  const data = Buffer.from(encoded.trim(), 'base64');
  if (data.length < 8 || (data.readInt32BE(0) & ~0xf0) !== V2_COMPRESSED_COOKIE_BASE) {
    throw new Error('histogram encoding not supported: only V2 compressed is');
  }
  const length = data.readInt32BE(4);
  return JsHistogram.decode(inflateSync(data.subarray(8, 8 + length)), bitBucketSize);
}
