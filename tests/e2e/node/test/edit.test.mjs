// End-to-end test of POST /v1/images/edits with the official OpenAI Node SDK against a real
// `retouch serve`. The SDK sends `fs.createReadStream` files as `application/octet-stream`
// parts in a chunked body, so this proves type sniffing and chunked multipart parsing.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import OpenAI from 'openai';
import { PNG } from 'pngjs';

const LISTENING = /^listening on (http:\/\/127\.0\.0\.1:(\d+))\s*$/;
const bin = process.env.RETOUCH_BIN ?? path.resolve(import.meta.dirname, '../../../../target/debug/retouch');

let server;
let base;
let work;
let stderrLog = '';

/** Start `retouch serve --port 0` and resolve with its base URL once it prints the listening line. */
function startServer(dataDir) {
  const proc = spawn(bin, ['serve', '--host', '127.0.0.1', '--port', '0', '--data-dir', dataDir], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  proc.stderr.on('data', (d) => {
    stderrLog += d.toString();
  });
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`no listening line within 60s; stderr:\n${stderrLog.slice(-2000)}`)), 60_000);
    proc.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited early with ${code}; stderr:\n${stderrLog.slice(-2000)}`));
    });
    proc.stdout.on('data', (d) => {
      out += d.toString();
      const line = out.split('\n')[0];
      if (out.includes('\n')) {
        const m = LISTENING.exec(line);
        clearTimeout(timer);
        if (m) resolve({ proc, base: m[1] });
        else reject(new Error(`unexpected first stdout line: ${JSON.stringify(line)}`));
      }
    });
  });
}

/** A deterministic photo-like RGB picture: gradients, texture and a hard-edged bar. */
function photoLike(width, height) {
  const png = new PNG({ width, height, colorType: 2, inputHasAlpha: false });
  const data = Buffer.alloc(width * height * 3);
  let seed = 12345;
  const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff - 0.5) * 12;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      const bar = Math.abs(x - width * 0.3) < width * 0.05;
      const clamp = (v) => Math.max(0, Math.min(255, Math.round(v)));
      data[i] = bar ? 30 : clamp(40 + (150 * x) / width + 20 * Math.sin(y / 7) + rand());
      data[i + 1] = bar ? 35 : clamp(60 + (120 * y) / height + 15 * Math.sin((x + y) / 5) + rand());
      data[i + 2] = bar ? 40 : clamp(90 + 25 * Math.cos(x / 9) + rand());
    }
  }
  png.data = data;
  return { rgb: data, png: PNG.sync.write(png, { colorType: 2, inputHasAlpha: false }) };
}

const W = 160;
const H = 120;
const hole = { x0: 60, y0: 40, x1: 100, y1: 75 };
const inHole = (x, y) => x >= hole.x0 && x < hole.x1 && y >= hole.y0 && y < hole.y1;

function maskPng() {
  const png = new PNG({ width: W, height: H });
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const i = (y * W + x) * 4;
      png.data[i] = png.data[i + 1] = png.data[i + 2] = 0;
      png.data[i + 3] = inHole(x, y) ? 0 : 255;
    }
  }
  return PNG.sync.write(png);
}

let imagePath;
let maskPath;
let original;

before(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'retouch-e2e-node-'));
  const photo = photoLike(W, H);
  original = photo.rgb;
  imagePath = path.join(work, 'photo.png');
  maskPath = path.join(work, 'mask.png');
  fs.writeFileSync(imagePath, photo.png);
  fs.writeFileSync(maskPath, maskPng());
  ({ proc: server, base } = await startServer(path.join(work, 'data')));
  server.removeAllListeners('exit');
});

after(async () => {
  if (!server) return;
  const code = await new Promise((resolve) => {
    if (server.exitCode !== null) return resolve(server.exitCode);
    const timer = setTimeout(() => {
      server.kill('SIGKILL');
      resolve('killed after 30s');
    }, 30_000);
    server.on('exit', (c) => {
      clearTimeout(timer);
      resolve(c);
    });
    server.kill('SIGTERM');
  });
  fs.rmSync(work, { recursive: true, force: true });
  assert.equal(code, 0, `server exit after SIGTERM; stderr:\n${stderrLog.slice(-2000)}`);
});

const client = () => new OpenAI({ apiKey: 'sk-test', baseURL: `${base}/v1`, maxRetries: 0, timeout: 120_000 });

test('image and mask as fs.createReadStream: 200, same size, known pixels unchanged', async () => {
  const { data, response } = await client()
    .images.edit({
      image: fs.createReadStream(imagePath),
      mask: fs.createReadStream(maskPath),
      prompt: 'fill the masked area',
      response_format: 'b64_json',
    })
    .withResponse();
  assert.equal(response.status, 200);
  assert.equal(response.headers.get('x-portkey-provider'), 'local');
  assert.ok(response.headers.get('x-request-id'));
  assert.equal(typeof data.created, 'number');
  assert.equal(data.data.length, 1);
  const bytes = Buffer.from(data.data[0].b64_json, 'base64');
  assert.deepEqual([...bytes.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'result is not a PNG');
  const out = PNG.sync.read(bytes); // always decoded to RGBA
  assert.equal(out.width, W);
  assert.equal(out.height, H);
  let changed = 0;
  let firstChange = null;
  let holeOpaque = true;
  const holeValues = new Set();
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const o = (y * W + x) * 4;
      const i = (y * W + x) * 3;
      if (inHole(x, y)) {
        if (out.data[o + 3] !== 255) holeOpaque = false;
        holeValues.add(`${out.data[o]},${out.data[o + 1]},${out.data[o + 2]}`);
      } else if (
        out.data[o] !== original[i] ||
        out.data[o + 1] !== original[i + 1] ||
        out.data[o + 2] !== original[i + 2] ||
        out.data[o + 3] !== 255
      ) {
        changed++;
        firstChange ??= { x, y, sent: [...original.subarray(i, i + 3)], got: [...out.data.subarray(o, o + 4)] };
      }
    }
  }
  assert.equal(changed, 0, `known pixels changed; first: ${JSON.stringify(firstChange)}`);
  assert.ok(holeOpaque, 'the edited area is not opaque');
  assert.ok(holeValues.size > 10, 'the edited area was filled with (almost) one colour');
});

test('n=11 through createReadStream: BadRequestError in OpenAI shape', async () => {
  await assert.rejects(
    client().images.edit({ image: fs.createReadStream(imagePath), prompt: 'too many', n: 11 }),
    (err) => {
      assert.ok(err instanceof OpenAI.BadRequestError, `got ${err?.constructor?.name}: ${err?.message}`);
      assert.equal(err.status, 400);
      assert.equal(err.param, 'n');
      assert.equal(err.code, 'integer_above_max_value');
      assert.equal(err.type, 'invalid_request_error');
      assert.equal(err.error.message, "Invalid 'n': integer above maximum value. Expected a value <= 10, but got 11 instead.");
      assert.ok(err.requestID, 'no x-request-id on the error');
      return true;
    },
  );
});

test('a text file streamed as an image: 400 naming the image', async () => {
  const textPath = path.join(work, 'notes.png');
  fs.writeFileSync(textPath, 'this is not an image\n'.repeat(50));
  await assert.rejects(
    client().images.edit({ image: fs.createReadStream(textPath), prompt: 'not an image' }),
    (err) => {
      assert.ok(err instanceof OpenAI.BadRequestError, `got ${err?.constructor?.name}: ${err?.message}`);
      assert.equal(err.status, 400);
      assert.ok(String(err.param).startsWith('image'), `param ${err.param}`);
      assert.ok(err.requestID);
      return true;
    },
  );
});
