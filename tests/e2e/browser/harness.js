// What the browser tests share: a real `retouch serve` on a free port, Debian's Chromium driven
// by playwright-core, test images made with pngjs, and a multipart reader for what the page
// uploaded. Nothing here reaches beyond 127.0.0.1.

import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtemp, mkdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { PNG } from 'pngjs';

const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, '../../..');
export const artifacts = path.join(repoRoot, 'artifacts', 'playground');

const CHROMIUM = process.env.CHROMIUM_BIN || '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

/**
 * Starts `retouch serve` on a free loopback port with a fresh data directory. With
 * `{ gatewayKey: NAME }`, first creates a gateway key in that directory the way an operator
 * does (`retouch keys create --name NAME`), so the server requires it; the key is returned.
 */
export async function startServer(extraArgs = [], { gatewayKey } = {}) {
  const bin = process.env.RETOUCH_BIN || path.join(repoRoot, 'target', 'debug', 'retouch');
  const dataDir = await mkdtemp(path.join(tmpdir(), 'retouch-browser-'));
  let key;
  if (gatewayKey) {
    const { stdout } = await promisify(execFile)(bin, ['keys', 'create', '--name', gatewayKey, '--data-dir', dataDir]);
    key = stdout.trim();
  }
  const child = spawn(bin, ['serve', '--host', '127.0.0.1', '--port', '0', '--data-dir', dataDir, ...extraArgs], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, RUST_LOG: process.env.RUST_LOG || 'warn' },
  });
  let stderr = '';
  child.stderr.on('data', (chunk) => { stderr = (stderr + chunk).slice(-8000); });
  const url = await new Promise((resolve, reject) => {
    let stdout = '';
    const timer = setTimeout(() => reject(new Error(`server did not start in 30 s\n${stderr}`)), 30_000);
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
      const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(stdout);
      if (match) { clearTimeout(timer); resolve(match[1]); }
    });
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`server exited with ${code}\n${stderr}`)); });
    child.once('error', (err) => { clearTimeout(timer); reject(err); });
  });
  return {
    url,
    key,
    logs: () => stderr,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
        await exited;
        clearTimeout(timer);
      }
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** Launches Chromium with a fresh profile; the caller closes it. */
export async function launchBrowser() {
  const profile = await mkdtemp(path.join(tmpdir(), 'retouch-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    acceptDownloads: true,
    viewport: { width: 1280, height: 900 },
    deviceScaleFactor: 1,
  });
  return {
    context,
    async close() {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}

/**
 * Keeps a copy of every multipart body the page hands to `fetch` in `window.__uploads`.
 * Chromium does not expose uploaded blobs to the DevTools protocol, so the request's own
 * post data is empty; this records exactly what the page passed to the network instead.
 */
function recordUploads() {
  const original = window.fetch;
  window.__uploads = [];
  const base64 = (blob) => new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result).split(',')[1] || '');
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(blob);
  });
  window.fetch = async function fetchAndRecord(input, init) {
    if (init && init.body instanceof FormData) {
      const fields = {};
      for (const [name, value] of init.body.entries()) {
        fields[name] = typeof value === 'string' ? value : { filename: value.name, type: value.type, base64: await base64(value) };
      }
      window.__uploads.push({ url: String(input), fields });
    }
    return original.call(this, input, init);
  };
}

/** What the page uploaded so far: text fields as strings, files as { filename, type, body: Buffer }. */
export async function uploads(page) {
  const recorded = await page.evaluate(() => window.__uploads);
  return recorded.map(({ url, fields }) => ({
    url,
    fields: Object.fromEntries(Object.entries(fields).map(([name, value]) => [
      name, typeof value === 'string' ? value : { ...value, body: Buffer.from(value.base64, 'base64') },
    ])),
  }));
}

/** Opens the playground and records console errors and failed requests for the assertion messages. */
export async function openPlayground(context, url, viewport) {
  const page = await context.newPage();
  if (viewport) await page.setViewportSize(viewport);
  await page.addInitScript(recordUploads);
  const problems = [];
  page.on('console', (msg) => { if (msg.type() === 'error') problems.push(`console: ${msg.text()}`); });
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  await page.goto(url, { waitUntil: 'load' });
  await page.locator('#server-status[data-state]').waitFor();
  return { page, problems };
}

export async function screenshot(page, name) {
  await mkdir(artifacts, { recursive: true });
  await page.screenshot({ path: path.join(artifacts, name), fullPage: true });
}

// ---- images ------------------------------------------------------------------------------------

/**
 * A scene with texture the fill can borrow from: a soft diagonal gradient with gentle stripes,
 * and a solid yellow disc (the "object" to remove) centred at (cx, cy).
 */
export function scene(width, height, { cx = width / 2, cy = height / 2, radius = Math.round(width / 10) } = {}) {
  const png = new PNG({ width, height, colorType: 6 });
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 4;
      const stripe = Math.sin((x + y) / 9) * 12;
      png.data[i] = Math.round(40 + (x / width) * 80 + stripe);
      png.data[i + 1] = Math.round(110 + (y / height) * 90 + stripe);
      png.data[i + 2] = Math.round(170 + stripe);
      png.data[i + 3] = 255;
      const dx = x + 0.5 - cx, dy = y + 0.5 - cy;
      if (dx * dx + dy * dy <= radius * radius) {
        png.data[i] = 250; png.data[i + 1] = 200; png.data[i + 2] = 20;
      }
    }
  }
  return { png, buffer: PNG.sync.write(png), cx, cy, radius };
}

export function decodePng(buffer) {
  return PNG.sync.read(buffer);
}

/** Whether pixel `i` has the object's colour; the background never comes close. */
export function isObjectColour(data, i) {
  return data[i] > 200 && data[i + 1] > 150 && data[i + 2] < 90;
}
