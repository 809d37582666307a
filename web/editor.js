// The mask editor: shows the input image, lets the user paint the area to edit, and renders
// both at full resolution for upload.
//
// The mask is one byte per image pixel (1 = edit) and is the source of truth. Strokes are
// rasterised straight into it as exact capsules, so the mask is binary: no antialiased edge
// leaks half-edited pixels into the upload. What the user sees is a downscaled view: the image
// and a full-resolution colour overlay drawn to a canvas sized to the screen.

const OVERLAY_RGB = [255, 64, 96];
const OVERLAY_ALPHA = 0.5;
const HISTORY_LIMIT = 60;
const HISTORY_BYTES = 256 * 1024 * 1024;

/** A rectangle in image pixels, `x1`/`y1` exclusive. */
class Rect {
  constructor(x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity) {
    this.x0 = x0; this.y0 = y0; this.x1 = x1; this.y1 = y1;
  }
  get empty() { return this.x1 <= this.x0 || this.y1 <= this.y0; }
  get width() { return this.x1 - this.x0; }
  get height() { return this.y1 - this.y0; }
  add(x0, y0, x1, y1) {
    this.x0 = Math.min(this.x0, x0); this.y0 = Math.min(this.y0, y0);
    this.x1 = Math.max(this.x1, x1); this.y1 = Math.max(this.y1, y1);
  }
}

function copyRect(mask, stride, rect) {
  const out = new Uint8Array(rect.width * rect.height);
  for (let y = rect.y0; y < rect.y1; y++) {
    const row = y * stride;
    out.set(mask.subarray(row + rect.x0, row + rect.x1), (y - rect.y0) * rect.width);
  }
  return out;
}

function pasteRect(mask, stride, rect, data) {
  for (let y = rect.y0; y < rect.y1; y++) {
    const from = (y - rect.y0) * rect.width;
    mask.set(data.subarray(from, from + rect.width), y * stride + rect.x0);
  }
}

function canvasToBlob(canvas, type) {
  return new Promise((resolve, reject) => {
    canvas.toBlob((blob) => (blob ? resolve(blob) : reject(new Error('The browser could not encode the image.'))), type);
  });
}

export class MaskEditor extends EventTarget {
  /**
   * @param {HTMLElement} stage  the box the view fits into (receives pointer events)
   * @param {HTMLCanvasElement} view
   * @param {HTMLElement} cursor  the brush outline
   */
  constructor(stage, view, cursor) {
    super();
    this.stage = stage;
    this.view = view;
    this.cursor = cursor;
    this.ctx = view.getContext('2d');
    this.image = null;         // ImageBitmap at full resolution
    this.width = 0;
    this.height = 0;
    this.mask = new Uint8Array(0);
    this.marked = 0;           // how many mask bytes are 1, kept in step with every edit
    this.overlay = null;       // canvas, full resolution, overlay colour where mask = 1
    this.overlayCtx = null;
    this.tool = 'brush';
    this.brushSize = 48;       // diameter in CSS pixels of the view
    this.undoStack = [];
    this.redoStack = [];
    this.stroke = null;        // { before, rect, last: {x, y}, pointerId }
    this.viewScale = 1;        // view CSS pixels per image pixel
    this.frame = 0;
    this.hasAlpha = false;

    this.resizeObserver = new ResizeObserver(() => this.layout());
    this.resizeObserver.observe(stage);
    view.addEventListener('pointerdown', (e) => this.onPointerDown(e));
    view.addEventListener('pointermove', (e) => this.onPointerMove(e));
    view.addEventListener('pointerup', (e) => this.onPointerUp(e));
    view.addEventListener('pointercancel', (e) => this.onPointerUp(e));
    view.addEventListener('pointerleave', () => this.cursor.classList.remove('visible'));
    view.addEventListener('lostpointercapture', (e) => this.onPointerUp(e));
  }

  get hasImage() { return this.image !== null; }
  get canUndo() { return this.undoStack.length > 0; }
  get canRedo() { return this.redoStack.length > 0; }

  /** Replaces the input image; the mask and its history start over. */
  setImage(bitmap) {
    if (this.image && this.image !== bitmap) this.image.close();
    this.image = bitmap;
    this.width = bitmap.width;
    this.height = bitmap.height;
    this.mask = new Uint8Array(this.width * this.height);
    this.marked = 0;
    this.overlay = document.createElement('canvas');
    this.overlay.width = this.width;
    this.overlay.height = this.height;
    this.overlayCtx = this.overlay.getContext('2d');
    this.undoStack = [];
    this.redoStack = [];
    this.stroke = null;
    this.hasAlpha = this.detectAlpha();
    // Lets narrow layouts size the stage to the picture instead of letterboxing it.
    this.stage.style.setProperty('--aspect', String(this.width / this.height));
    this.layout();
    this.changed();
  }

  setTool(tool) {
    this.tool = tool;
    this.changed();
  }

  setBrushSize(size) {
    this.brushSize = Math.max(1, Math.round(size));
    this.cursor.style.width = `${this.brushSize}px`;
    this.cursor.style.height = `${this.brushSize}px`;
    this.changed();
  }

  /** Fraction of the image marked for editing. */
  coverage() {
    return this.mask.length ? this.marked / this.mask.length : 0;
  }

  isMaskEmpty() {
    return this.marked === 0;
  }

  undo() { this.travel(this.undoStack, this.redoStack, 'before'); }
  redo() { this.travel(this.redoStack, this.undoStack, 'after'); }

  clear() {
    if (!this.hasImage || this.isMaskEmpty()) return;
    this.wholeMaskEdit(() => this.mask.fill(0));
  }

  invert() {
    if (!this.hasImage) return;
    this.wholeMaskEdit(() => {
      for (let i = 0; i < this.mask.length; i++) this.mask[i] ^= 1;
    });
  }

  /** Marks every pixel that is not fully opaque, as OpenAI does when no mask is sent. */
  fromTransparency() {
    if (!this.hasImage) return 0;
    const pixels = this.readImagePixels();
    let marked = 0;
    this.wholeMaskEdit(() => {
      for (let i = 0, p = 3; i < this.mask.length; i++, p += 4) {
        const edit = pixels[p] < 255 ? 1 : 0;
        this.mask[i] = edit;
        marked += edit;
      }
    });
    return marked;
  }

  /** The input image as PNG at full resolution, exactly the pixels shown. */
  async imagePng() {
    const canvas = this.fullCanvas();
    canvas.getContext('2d').drawImage(this.image, 0, 0);
    return canvasToBlob(canvas, 'image/png');
  }

  /** The mask as OpenAI wants it: same size as the image, alpha 0 where to edit, opaque white elsewhere. */
  async maskPng() {
    const canvas = this.fullCanvas();
    const ctx = canvas.getContext('2d');
    const data = ctx.createImageData(this.width, this.height);
    const px = data.data;
    for (let i = 0, p = 0; i < this.mask.length; i++, p += 4) {
      const keep = this.mask[i] ? 0 : 255;
      px[p] = keep; px[p + 1] = keep; px[p + 2] = keep; px[p + 3] = keep;
    }
    ctx.putImageData(data, 0, 0);
    return canvasToBlob(canvas, 'image/png');
  }

  // ---- internals -------------------------------------------------------------------------

  fullCanvas() {
    const canvas = document.createElement('canvas');
    canvas.width = this.width;
    canvas.height = this.height;
    return canvas;
  }

  readImagePixels() {
    const canvas = this.fullCanvas();
    const ctx = canvas.getContext('2d', { willReadFrequently: true });
    ctx.drawImage(this.image, 0, 0);
    return ctx.getImageData(0, 0, this.width, this.height).data;
  }

  detectAlpha() {
    const px = this.readImagePixels();
    for (let p = 3; p < px.length; p += 4) if (px[p] < 255) return true;
    return false;
  }

  changed() {
    this.dispatchEvent(new Event('change'));
  }

  /** Runs an edit that may touch the whole mask, recording it as one undo step. */
  wholeMaskEdit(edit) {
    const before = this.mask.slice();
    edit();
    this.recount();
    const rect = new Rect(0, 0, this.width, this.height);
    this.record(rect, before, this.mask.slice());
    this.refreshOverlay(rect);
  }

  record(rect, before, after) {
    this.undoStack.push({ rect, before, after });
    this.redoStack = [];
    let bytes = 0;
    for (let i = this.undoStack.length - 1; i >= 0; i--) {
      bytes += this.undoStack[i].before.length * 2;
      if (bytes > HISTORY_BYTES || this.undoStack.length - i > HISTORY_LIMIT) {
        this.undoStack.splice(0, i + 1);
        break;
      }
    }
    this.changed();
  }

  travel(from, to, side) {
    const step = from.pop();
    if (!step) return;
    pasteRect(this.mask, this.width, step.rect, step[side]);
    this.recount();
    to.push(step);
    this.refreshOverlay(step.rect);
    this.changed();
  }

  recount() {
    let count = 0;
    for (let i = 0; i < this.mask.length; i++) count += this.mask[i];
    this.marked = count;
  }

  /** Re-colours the overlay for `rect` from the mask (clearing unmarked pixels), then schedules a redraw. */
  refreshOverlay(rect) {
    if (rect.empty) return;
    const x0 = Math.max(0, rect.x0), y0 = Math.max(0, rect.y0);
    const x1 = Math.min(this.width, rect.x1), y1 = Math.min(this.height, rect.y1);
    if (x1 <= x0 || y1 <= y0) return;
    const w = x1 - x0, h = y1 - y0;
    const data = this.overlayCtx.createImageData(w, h);
    const px = data.data;
    const [r, g, b] = OVERLAY_RGB;
    for (let y = 0; y < h; y++) {
      let m = (y + y0) * this.width + x0;
      let p = y * w * 4;
      for (let x = 0; x < w; x++, m++, p += 4) {
        if (this.mask[m]) { px[p] = r; px[p + 1] = g; px[p + 2] = b; px[p + 3] = 255; }
      }
    }
    this.overlayCtx.putImageData(data, x0, y0);
    this.scheduleDraw();
  }

  /** Fits the view into the stage, keeping the aspect ratio and never upscaling past 1:1 on screen pixels. */
  layout() {
    if (!this.hasImage) return;
    const box = this.stage.getBoundingClientRect();
    const pad = 16;
    const availW = Math.max(32, box.width - pad * 2);
    const availH = Math.max(32, box.height - pad * 2);
    const scale = Math.min(availW / this.width, availH / this.height, 4);
    const cssW = Math.max(1, Math.round(this.width * scale));
    const cssH = Math.max(1, Math.round(this.height * scale));
    const dpr = window.devicePixelRatio || 1;
    // The backing store is downscaled for big images: never more pixels than the screen shows.
    this.view.width = Math.min(this.width, Math.round(cssW * dpr)) || 1;
    this.view.height = Math.min(this.height, Math.round(cssH * dpr)) || 1;
    this.view.style.width = `${cssW}px`;
    this.view.style.height = `${cssH}px`;
    this.viewScale = cssW / this.width;
    this.draw();
    this.changed();
  }

  scheduleDraw() {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.draw();
    });
  }

  draw() {
    const { ctx, view } = this;
    ctx.clearRect(0, 0, view.width, view.height);
    if (!this.hasImage) return;
    ctx.imageSmoothingEnabled = true;
    ctx.imageSmoothingQuality = 'high';
    ctx.globalAlpha = 1;
    ctx.drawImage(this.image, 0, 0, view.width, view.height);
    ctx.globalAlpha = OVERLAY_ALPHA;
    ctx.drawImage(this.overlay, 0, 0, view.width, view.height);
    ctx.globalAlpha = 1;
  }

  toImage(event) {
    const box = this.view.getBoundingClientRect();
    return {
      x: ((event.clientX - box.left) / box.width) * this.width,
      y: ((event.clientY - box.top) / box.height) * this.height,
    };
  }

  moveCursor(event) {
    const stageBox = this.stage.getBoundingClientRect();
    const x = event.clientX - stageBox.left;
    const y = event.clientY - stageBox.top;
    this.cursor.style.transform = `translate(${x - this.brushSize / 2}px, ${y - this.brushSize / 2}px)`;
    this.cursor.classList.toggle('eraser', this.tool === 'eraser');
    this.cursor.classList.add('visible');
  }

  onPointerDown(event) {
    if (!this.hasImage || event.button !== 0 || this.stroke) return;
    event.preventDefault();
    this.view.setPointerCapture(event.pointerId);
    const at = this.toImage(event);
    this.stroke = { before: this.mask.slice(), rect: new Rect(), last: at, pointerId: event.pointerId };
    this.paint(at, at);
    this.moveCursor(event);
  }

  onPointerMove(event) {
    if (!this.hasImage) return;
    this.moveCursor(event);
    if (!this.stroke || event.pointerId !== this.stroke.pointerId) return;
    const events = typeof event.getCoalescedEvents === 'function' ? event.getCoalescedEvents() : [];
    for (const e of events.length ? events : [event]) {
      const at = this.toImage(e);
      this.paint(this.stroke.last, at);
      this.stroke.last = at;
    }
  }

  onPointerUp(event) {
    const { stroke } = this;
    if (!stroke || event.pointerId !== stroke.pointerId) return;
    this.stroke = null;
    if (this.view.hasPointerCapture(event.pointerId)) this.view.releasePointerCapture(event.pointerId);
    if (stroke.rect.empty) return;
    const before = copyRect(stroke.before, this.width, stroke.rect);
    const after = copyRect(this.mask, this.width, stroke.rect);
    if (before.every((v, i) => v === after[i])) return;
    this.record(stroke.rect, before, after);
  }

  /** Rasterises a capsule (a segment with round ends) of the brush radius into the mask. */
  paint(from, to) {
    const radius = this.brushSize / 2 / this.viewScale;
    const value = this.tool === 'eraser' ? 0 : 1;
    const x0 = Math.max(0, Math.floor(Math.min(from.x, to.x) - radius));
    const y0 = Math.max(0, Math.floor(Math.min(from.y, to.y) - radius));
    const x1 = Math.min(this.width, Math.ceil(Math.max(from.x, to.x) + radius) + 1);
    const y1 = Math.min(this.height, Math.ceil(Math.max(from.y, to.y) + radius) + 1);
    if (x1 <= x0 || y1 <= y0) return;
    const dx = to.x - from.x, dy = to.y - from.y;
    const len2 = dx * dx + dy * dy;
    const r2 = radius * radius;
    const { mask, width } = this;
    for (let y = y0; y < y1; y++) {
      const py = y + 0.5 - from.y;
      let i = y * width + x0;
      for (let x = x0; x < x1; x++, i++) {
        const px = x + 0.5 - from.x;
        let t = len2 > 0 ? (px * dx + py * dy) / len2 : 0;
        t = t < 0 ? 0 : t > 1 ? 1 : t;
        const ex = px - t * dx, ey = py - t * dy;
        if (ex * ex + ey * ey <= r2 && mask[i] !== value) {
          mask[i] = value;
          this.marked += value ? 1 : -1;
        }
      }
    }
    this.stroke.rect.add(x0, y0, x1, y1);
    this.refreshOverlay(new Rect(x0, y0, x1, y1));
  }
}
