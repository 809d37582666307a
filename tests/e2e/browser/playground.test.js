// The playground in Chromium against a real `retouch serve`: load an image, paint a mask over an
// object, run the local engine and check the result's pixels; the error paths; partial images
// while a large edit streams; keyboard shortcuts; a narrow (phone-sized) layout.

import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { PNG } from 'pngjs';
import {
  decodePng, isObjectColour, launchBrowser, openPlayground, scene, screenshot, startServer, uploads,
} from './harness.js';

/** Loads a PNG through the page's file input and waits until the editor shows it. */
async function loadScene(page, img, name = 'scene.png') {
  await page.setInputFiles('#file-input', { name, mimeType: 'image/png', buffer: img.buffer });
  await page.locator('#image-info', { hasText: `${img.png.width} × ${img.png.height}` }).waitFor();
}

/** Waits for the first finished result card, failing early with the page's error message. */
async function waitForResult(page, timeout) {
  const card = page.locator('.result.loaded').first();
  const error = page.locator('#error:not([hidden]) #error-message');
  await Promise.race([card.waitFor({ timeout }), error.waitFor({ timeout })]);
  if (await error.isVisible()) assert.fail(`the page shows an error: ${await error.textContent()}`);
  return card;
}

/** Drags the brush horizontally through the object, from 1.6 radii left of it to 1.6 right. */
async function strokeAcrossObject(page, img, brush = 200) {
  await page.locator('#brush-size').fill(String(brush));
  const box = await page.locator('#view').boundingBox();
  const sx = box.width / img.png.width, sy = box.height / img.png.height;
  const y = box.y + img.cy * sy;
  await page.mouse.move(box.x + (img.cx - img.radius * 1.6) * sx, y);
  await page.mouse.down();
  await page.mouse.move(box.x + (img.cx + img.radius * 1.6) * sx, y, { steps: 24 });
  await page.mouse.up();
  await page.locator('#image-info', { hasText: 'masked' }).waitFor();
}

let server;
let browser;

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

describe('playground', () => {
  test('is served by the server with its assets and a strict CSP', async () => {
    const { page, problems } = await openPlayground(browser.context, `${server.url}/`);
    const response = await page.request.get(`${server.url}/playground`);
    assert.equal(response.status(), 200);
    assert.match(response.headers()['content-security-policy'], /default-src 'none'/);
    assert.equal(await page.locator('#model option[value="retouch-fill"]').count(), 1);
    assert.equal(await page.locator('#server-status').getAttribute('data-state'), 'ok');
    assert.deepEqual(problems, []);
    await page.close();
  });

  test('paints a mask across an object, edits it, and changes only the painted pixels', async () => {
    const { page, problems } = await openPlayground(browser.context, `${server.url}/`);
    const img = scene(512, 512);
    await loadScene(page, img);
    await page.fill('#prompt', 'remove the yellow ball');
    // The local engine is selected by default, and the page says what it can and cannot do.
    await page.locator('#prompt-note', { hasText: 'does not paint what the prompt says' }).waitFor();
    await strokeAcrossObject(page, img);
    await screenshot(page, 'before-edit.png');

    const requestSeen = page.waitForRequest((r) => r.url().endsWith('/v1/images/edits') && r.method() === 'POST');
    await page.click('#submit');
    const request = await requestSeen;
    const card = await waitForResult(page, 180_000);
    await page.locator('#progress').waitFor({ state: 'hidden' });
    await screenshot(page, 'after-edit.png');

    // What the page uploaded: the input unchanged, and a binary mask covering the object.
    assert.match(request.headers()['content-type'], /^multipart\/form-data; boundary=/);
    const [upload] = await uploads(page);
    const sent = upload.fields;
    assert.equal(sent.model, 'retouch-fill');
    assert.equal(sent.prompt, 'remove the yellow ball');
    assert.equal(sent.n, '1');
    assert.equal(sent.stream, 'true');
    assert.equal(sent.partial_images, '3');
    assert.equal(sent.response_format, 'b64_json');
    assert.equal(sent.output_format, 'png');
    assert.equal(sent.size, undefined, 'keep-input-size sends no size');
    assert.equal(sent.image.type, 'image/png');
    assert.equal(sent.mask.type, 'image/png');
    const image = decodePng(sent.image.body);
    const mask = decodePng(sent.mask.body);
    assert.deepEqual([image.width, image.height, mask.width, mask.height], [512, 512, 512, 512]);
    assert.ok(image.data.equals(img.png.data), 'the uploaded image has exactly the input pixels');
    let masked = 0;
    for (let i = 0; i < mask.data.length; i += 4) {
      assert.ok(mask.data[i + 3] === 0 || mask.data[i + 3] === 255, `mask alpha ${mask.data[i + 3]} is not binary`);
      if (mask.data[i + 3] === 0) {
        masked += 1;
      } else {
        assert.ok(!isObjectColour(img.png.data, i), 'every pixel of the object is inside the painted mask');
      }
    }
    const share = masked / (512 * 512);
    assert.ok(share > 0.1 && share < 0.5, `the stroke masked ${(share * 100).toFixed(1)}% of the image`);

    // What came back, through the Download button: same size; outside the mask identical;
    // inside it, the yellow object is gone.
    const downloadSeen = page.waitForEvent('download');
    await card.locator('a[download]').click();
    const download = await downloadSeen;
    assert.match(download.suggestedFilename(), /^retouch-\d+\.png$/);
    const result = decodePng(await readFile(await download.path()));
    assert.deepEqual([result.width, result.height], [512, 512]);
    let changedInside = 0, objectInside = 0, changedOutside = 0;
    for (let i = 0; i < mask.data.length; i += 4) {
      const differs = result.data[i] !== img.png.data[i] || result.data[i + 1] !== img.png.data[i + 1]
        || result.data[i + 2] !== img.png.data[i + 2] || result.data[i + 3] !== img.png.data[i + 3];
      if (mask.data[i + 3] === 0) {
        if (differs) changedInside += 1;
        if (isObjectColour(result.data, i)) objectInside += 1;
      } else if (differs) {
        changedOutside += 1;
      }
    }
    assert.equal(changedOutside, 0, 'pixels outside the painted mask are unchanged');
    assert.equal(objectInside, 0, 'no object pixel survives inside the mask');
    const disc = Math.round(Math.PI * img.radius * img.radius);
    assert.ok(changedInside >= disc * 0.95, `the painted area changed (${changedInside} pixels)`);

    // The gallery's before/after slider moves the split.
    await card.locator('.compare-range').fill('20');
    assert.equal(await card.locator('.compare').evaluate((el) => el.style.getPropertyValue('--pos')), '20%');

    // "Use as input" makes the result the new input with an empty mask.
    await card.locator('button.reuse').click();
    await page.locator('#image-info', { hasText: 'no mask yet' }).waitFor();
    assert.deepEqual(problems, []);
    await page.close();
  });

  test('streams partial images before the final one for a large image', async () => {
    const { page, problems } = await openPlayground(browser.context, `${server.url}/`);
    const img = scene(1536, 1536, { radius: 100 });
    await loadScene(page, img, 'large.png');
    await strokeAcrossObject(page, img, 100);
    // Record, in the page, when the first partial image and the first final result appear.
    await page.evaluate(() => {
      window.__seen = [];
      const gallery = document.getElementById('gallery');
      new MutationObserver(() => {
        const partial = gallery.querySelector('.result.pending img.partial:not([hidden])');
        if (partial && !window.__seen.includes('partial')) window.__seen.push('partial');
        if (gallery.querySelector('.result:not(.pending)') && !window.__seen.includes('final')) window.__seen.push('final');
      }).observe(gallery, { subtree: true, childList: true, attributes: true });
    });
    await page.click('#submit');
    await page.locator('#progress-track:not([hidden])').waitFor();
    await waitForResult(page, 240_000);
    const seen = await page.evaluate(() => window.__seen);
    assert.deepEqual(seen, ['partial', 'final'], 'a partial image was shown before the final one');
    assert.equal(await page.locator('.result.loaded').first().getAttribute('data-width'), '1536');
    // The prompt box was left empty: the local engine does not need one, and the page sends
    // its stand-in rather than an empty field the API would refuse.
    const [upload] = await uploads(page);
    assert.equal(upload.fields.prompt, 'Fill the masked area from the rest of the image.');
    assert.deepEqual(problems, []);
    await page.close();
  });

  test('a file that is not an image shows an error instead of loading', async () => {
    const { page } = await openPlayground(browser.context, `${server.url}/`);
    await page.setInputFiles('#file-input', { name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('hello') });
    await page.locator('#error', { hasText: 'is not an image' }).waitFor();
    await page.setInputFiles('#file-input', { name: 'broken.png', mimeType: 'image/png', buffer: Buffer.from('not really a png') });
    await page.locator('#error', { hasText: 'could not decode' }).waitFor();
    assert.equal(await page.locator('#submit').isDisabled(), true);
    assert.equal(await page.locator('#stage').getAttribute('data-empty'), 'true');
    await page.close();
  });

  test('keyboard shortcuts switch tools, resize the brush, undo and redo', async () => {
    const { page } = await openPlayground(browser.context, `${server.url}/`);
    const img = scene(400, 300);
    await loadScene(page, img);
    await page.locator('#view').focus();
    await page.keyboard.press('e');
    assert.equal(await page.locator('#tool-eraser').getAttribute('aria-pressed'), 'true');
    await page.keyboard.press('b');
    assert.equal(await page.locator('#tool-brush').getAttribute('aria-pressed'), 'true');
    const size = Number(await page.locator('#brush-size').inputValue());
    await page.keyboard.press(']');
    assert.ok(Number(await page.locator('#brush-size').inputValue()) > size);
    await page.keyboard.press('[');
    await page.keyboard.press('[');
    assert.ok(Number(await page.locator('#brush-size').inputValue()) < size);

    await strokeAcrossObject(page, img, 60);
    const masked = await page.locator('#image-info').textContent();
    await page.keyboard.press('Control+z');
    await page.locator('#image-info', { hasText: 'no mask yet' }).waitFor();
    await page.keyboard.press('Control+Shift+z');
    await page.locator('#image-info', { hasText: masked.split(' · ')[1] }).waitFor();
    await page.keyboard.press('Control+z');
    await page.keyboard.press('Control+y');
    await page.locator('#image-info', { hasText: masked.split(' · ')[1] }).waitFor();

    // Invert then clear through the toolbar; clear is undoable too.
    await page.click('#invert-mask');
    assert.notEqual(await page.locator('#image-info').textContent(), masked);
    await page.click('#clear-mask');
    await page.locator('#image-info', { hasText: 'no mask yet' }).waitFor();
    await page.click('#undo');
    await page.locator('#image-info', { hasText: 'masked' }).waitFor();
    assert.ok(await page.locator('#shortcuts').isVisible(), 'the shortcut hint is visible');
    await page.close();
  });

  test('asks for a gateway key on 401 from a keyed server and keeps it for the session only', async () => {
    // A second server whose data directory holds a gateway key (created with `retouch keys
    // create`), so /v1 really answers 401 until the page sends that key.
    const keyed = await startServer([], { gatewayKey: 'browser test' });
    try {
      assert.match(keyed.key, /^rtk_[0-9a-f]{64}$/);
      const page = await browser.context.newPage();
      const seen = [];
      page.on('request', (request) => {
        if (new URL(request.url()).pathname === '/v1/models') seen.push(request.headers().authorization || '');
      });
      await page.goto(`${keyed.url}/`);
      const dialog = page.locator('#key-dialog');
      await dialog.waitFor();
      assert.equal(await page.locator('#server-status').textContent(), 'Key required');

      // A wrong key: the server refuses it, and the dialog says why without echoing the key.
      const wrong = keyed.key.slice(0, -1) + (keyed.key.endsWith('0') ? '1' : '0');
      await page.fill('#key-input', wrong);
      await page.click('#key-save');
      const error = page.locator('#key-error', { hasText: 'Incorrect API key provided' });
      await error.waitFor();
      assert.ok(!(await error.textContent()).includes(wrong.slice(12)), 'the key is masked');

      await page.fill('#key-input', keyed.key);
      await page.click('#key-save');
      await page.locator('#server-status[data-state="ok"]').waitFor();
      assert.ok(!(await dialog.isVisible()));
      assert.deepEqual(seen, ['', `Bearer ${wrong}`, `Bearer ${keyed.key}`]);
      const stored = await page.evaluate(() => [sessionStorage.getItem('retouch.gatewayKey'), localStorage.length]);
      assert.deepEqual(stored, [keyed.key, 0]);
      assert.ok(await page.locator('#key-button').isVisible(), 'the key can be changed later');
      // The key itself is what the server accepts, not something the page added to it.
      const models = await page.evaluate(async (key) => {
        const response = await fetch('/v1/models', { headers: { authorization: `Bearer ${key}` } });
        return response.status;
      }, keyed.key);
      assert.equal(models, 200);
      await page.close();
    } finally {
      await keyed.stop();
    }
  });

  test('fits a phone-sized screen', async () => {
    const { page, problems } = await openPlayground(browser.context, `${server.url}/`, { width: 390, height: 844 });
    const img = scene(512, 512);
    await loadScene(page, img);
    await strokeAcrossObject(page, img, 80);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `the page scrolls sideways by ${overflow}px at 390px`);
    const view = await page.locator('#view').boundingBox();
    assert.ok(view.width <= 390 && view.width > 300, `the image view is ${view.width}px wide`);
    for (const id of ['#tool-brush', '#tool-eraser', '#undo', '#redo', '#submit', '#prompt', '#model']) {
      assert.ok(await page.locator(id).isVisible(), `${id} is visible`);
    }
    await screenshot(page, 'narrow.png');
    assert.deepEqual(problems, []);
    await page.close();
  });
});

describe('server errors', () => {
  let small;
  before(async () => { small = await startServer(['--max-pixels', '10000']); });
  after(async () => { await small?.stop(); });

  test("an edit the server refuses shows the server's own message", async () => {
    const img = scene(256, 256);
    // Ask the API directly for the message it gives, then expect the page to show that text.
    const mask = new PNG({ width: 256, height: 256, colorType: 6 });
    mask.data.fill(255);
    for (let y = 100; y < 160; y++) mask.data.fill(0, (y * 256 + 80) * 4, (y * 256 + 180) * 4);
    const form = new FormData();
    form.append('image', new Blob([img.buffer], { type: 'image/png' }), 'image.png');
    form.append('mask', new Blob([PNG.sync.write(mask)], { type: 'image/png' }), 'mask.png');
    form.append('prompt', 'remove the yellow ball');
    form.append('model', 'retouch-fill');
    const direct = await fetch(`${small.url}/v1/images/edits`, { method: 'POST', body: form });
    assert.ok(direct.status >= 400 && direct.status < 500, `direct call answered ${direct.status}`);
    const { error } = await direct.json();
    assert.ok(error.message);

    const { page } = await openPlayground(browser.context, `${small.url}/`);
    await loadScene(page, img);
    await page.fill('#prompt', 'remove the yellow ball');
    await strokeAcrossObject(page, img, 80);
    await page.click('#submit');
    await page.locator('#error').waitFor();
    assert.equal((await page.locator('#error-message').textContent()).trim(), error.message);
    assert.equal(await page.locator('.result').count(), 0, 'no pending card is left behind');
    assert.equal(await page.locator('#submit').isDisabled(), false, 'the form is usable again');
    await screenshot(page, 'server-error.png');
    await page.close();
  });
});
