// The playground page: wires the editor, the edit form, the gallery and the key dialog
// together, and owns the keyboard shortcuts and image loading (picker, drop, paste).

import { ApiError, editImage, fallbackModels, gatewayKey, listModels } from './api.js';
import { MaskEditor } from './editor.js';
import { Gallery } from './gallery.js';

const $ = (id) => document.getElementById(id);
const isMac = /Mac|iPhone|iPad/.test(navigator.platform || navigator.userAgent);
const PARTIAL_IMAGES = 3;
// The API requires a prompt, but the local engine does not read it; an empty prompt box is
// fine there and this is what gets sent instead.
const LOCAL_PROMPT = 'Fill the masked area from the rest of the image.';

const ui = {
  stage: $('stage'), view: $('view'), cursor: $('brush-cursor'), fileInput: $('file-input'),
  brush: $('tool-brush'), eraser: $('tool-eraser'), size: $('brush-size'), sizeValue: $('brush-size-value'),
  undo: $('undo'), redo: $('redo'), clear: $('clear-mask'), invert: $('invert-mask'), alpha: $('alpha-mask'),
  info: $('image-info'), form: $('edit-form'), prompt: $('prompt'), promptNote: $('prompt-note'),
  model: $('model'), modelNote: $('model-note'), n: $('n'), format: $('output-format'),
  sizeSelect: $('size'), customSize: $('custom-size'), customW: $('custom-width'), customH: $('custom-height'),
  submit: $('submit'), cancel: $('cancel'), progress: $('progress'), progressLabel: $('progress-label'),
  progressTime: $('progress-time'), progressTrack: $('progress-track'), progressBar: $('progress-bar'),
  error: $('error'), errorTitle: $('error-title'), errorMessage: $('error-message'),
  status: $('server-status'), keyButton: $('key-button'), keyDialog: $('key-dialog'), keyForm: $('key-form'),
  keyInput: $('key-input'), keyError: $('key-error'), keyCancel: $('key-cancel'), keyForget: $('key-forget'),
};

const editor = new MaskEditor(ui.stage, ui.view, ui.cursor);
const gallery = new Gallery($('gallery'), $('results-empty'), $('results-count'), {
  onReuse: (blob) => loadImage(blob, 'result').then(() => ui.stage.scrollIntoView({ behavior: 'smooth', block: 'nearest' })),
});

const state = { models: fallbackModels(), running: null, imageName: '' };

// ---- errors ----------------------------------------------------------------------------------

function showError(message, title = 'The edit failed') {
  ui.errorTitle.textContent = title;
  ui.errorMessage.textContent = message;
  ui.error.hidden = false;
}

function hideError() {
  ui.error.hidden = true;
}

// ---- image loading ---------------------------------------------------------------------------

async function loadImage(blob, name) {
  hideError();
  if (blob.type && !blob.type.startsWith('image/')) {
    showError(`“${name}” is not an image (${blob.type}). Open a PNG, JPEG or WebP file.`, 'Cannot open this file');
    return;
  }
  let bitmap;
  try {
    // Keep the file's own pixels: no colour conversion, no premultiplication.
    bitmap = await createImageBitmap(blob, { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
  } catch {
    showError(`The browser could not decode “${name}”. Open a PNG, JPEG or WebP image.`, 'Cannot open this file');
    return;
  }
  state.imageName = name;
  ui.stage.dataset.empty = 'false';
  editor.setImage(bitmap);
  syncControls();
}

ui.fileInput.addEventListener('change', () => {
  const [file] = ui.fileInput.files;
  if (file) loadImage(file, file.name);
  ui.fileInput.value = '';
});

let dragDepth = 0;
ui.stage.addEventListener('dragenter', (e) => {
  if (!e.dataTransfer?.types.includes('Files')) return;
  e.preventDefault();
  dragDepth += 1;
  ui.stage.classList.add('dragging');
});
ui.stage.addEventListener('dragover', (e) => {
  if (!e.dataTransfer?.types.includes('Files')) return;
  e.preventDefault();
  e.dataTransfer.dropEffect = 'copy';
});
ui.stage.addEventListener('dragleave', () => {
  dragDepth = Math.max(0, dragDepth - 1);
  if (!dragDepth) ui.stage.classList.remove('dragging');
});
ui.stage.addEventListener('drop', (e) => {
  e.preventDefault();
  dragDepth = 0;
  ui.stage.classList.remove('dragging');
  const file = [...(e.dataTransfer?.files || [])][0];
  if (file) loadImage(file, file.name);
});
// A file dropped outside the stage should not navigate away from the page.
window.addEventListener('dragover', (e) => e.preventDefault());
window.addEventListener('drop', (e) => e.preventDefault());

document.addEventListener('paste', (e) => {
  const item = [...(e.clipboardData?.items || [])].find((i) => i.kind === 'file' && i.type.startsWith('image/'));
  if (!item) return;
  const file = item.getAsFile();
  if (!file) return;
  e.preventDefault();
  loadImage(file, file.name || 'pasted image');
});

// ---- tools -----------------------------------------------------------------------------------

function setTool(tool) {
  editor.setTool(tool);
  ui.brush.setAttribute('aria-pressed', String(tool === 'brush'));
  ui.eraser.setAttribute('aria-pressed', String(tool === 'eraser'));
}

function setBrushSize(size) {
  const min = Number(ui.size.min), max = Number(ui.size.max);
  const value = Math.min(max, Math.max(min, Math.round(size)));
  ui.size.value = String(value);
  ui.sizeValue.textContent = String(value);
  editor.setBrushSize(value);
}

ui.brush.addEventListener('click', () => setTool('brush'));
ui.eraser.addEventListener('click', () => setTool('eraser'));
ui.size.addEventListener('input', () => setBrushSize(Number(ui.size.value)));
ui.undo.addEventListener('click', () => editor.undo());
ui.redo.addEventListener('click', () => editor.redo());
ui.clear.addEventListener('click', () => editor.clear());
ui.invert.addEventListener('click', () => editor.invert());
ui.alpha.addEventListener('click', () => {
  const marked = editor.fromTransparency();
  if (!marked) showError('This image has no transparent pixels to use as a mask.', 'Nothing to mask');
  else hideError();
});

function syncControls() {
  const has = editor.hasImage;
  ui.undo.disabled = !editor.canUndo;
  ui.redo.disabled = !editor.canRedo;
  ui.clear.disabled = !has || editor.isMaskEmpty();
  ui.invert.disabled = !has;
  ui.alpha.disabled = !has || !editor.hasAlpha;
  ui.submit.disabled = !has || Boolean(state.running);
  if (has) {
    const pct = editor.coverage() * 100;
    const masked = editor.isMaskEmpty() ? 'no mask yet' : `${pct < 0.1 ? '<0.1' : pct.toFixed(pct < 10 ? 1 : 0)}% masked`;
    const zoom = Math.round(editor.viewScale * 100);
    ui.info.textContent = `${editor.width} × ${editor.height} · ${masked} · view ${zoom}%`;
    ui.info.title = state.imageName;
  } else {
    ui.info.textContent = 'No image';
  }
}
editor.addEventListener('change', syncControls);

// ---- models and form -------------------------------------------------------------------------

function selectedModel() {
  return state.models.find((m) => m.id === ui.model.value) || state.models[0];
}

function syncModel() {
  const model = selectedModel();
  ui.promptNote.hidden = !model.local;
  ui.promptNote.textContent = model.local
    ? 'The local engine fills the painted area from the rest of the picture. It does not paint what the prompt says.'
    : '';
  const parts = [];
  if (model.description) parts.push(model.description);
  else if (model.provider) parts.push(`Provider: ${model.provider}.`);
  parts.push(model.stream ? 'Streams previews.' : 'No previews; the result arrives at once.');
  ui.modelNote.textContent = parts.join(' ');
  ui.format.disabled = !model.outputFormat;
  ui.prompt.placeholder = model.local
    ? 'Optional with the local engine, e.g. “remove the ball”'
    : 'Describe the edit, e.g. “replace the sky with a sunset”';
}

function renderModels() {
  const previous = ui.model.value;
  ui.model.replaceChildren(...state.models.map((m) => {
    const option = document.createElement('option');
    option.value = m.id;
    option.textContent = m.local ? `${m.id} (local)` : m.provider ? `${m.id} (${m.provider})` : m.id;
    return option;
  }));
  if (state.models.some((m) => m.id === previous)) ui.model.value = previous;
  syncModel();
}

async function loadModels() {
  try {
    state.models = await listModels();
    ui.status.textContent = `${state.models.length} model${state.models.length === 1 ? '' : 's'} available`;
    ui.status.dataset.state = 'ok';
  } catch (err) {
    if (err instanceof ApiError && err.needsKey) {
      ui.status.textContent = 'Key required';
      ui.status.dataset.state = 'warn';
      ui.keyButton.hidden = false;
      renderModels();
      if (await askForKey(err.message)) return loadModels();
      return;
    }
    state.models = fallbackModels();
    ui.status.textContent = 'Model list unavailable';
    ui.status.dataset.state = 'warn';
  }
  ui.keyButton.hidden = !gatewayKey.get() && ui.status.dataset.state === 'ok';
  renderModels();
}

ui.model.addEventListener('change', syncModel);
ui.sizeSelect.addEventListener('change', () => {
  ui.customSize.hidden = ui.sizeSelect.value !== 'custom';
  if (!ui.customSize.hidden && editor.hasImage && !ui.customW.value) {
    ui.customW.value = String(editor.width);
    ui.customH.value = String(editor.height);
  }
});

function requestedSize() {
  const value = ui.sizeSelect.value;
  if (value !== 'custom') return value;
  const w = Number(ui.customW.value), h = Number(ui.customH.value);
  if (!Number.isInteger(w) || !Number.isInteger(h) || w < 1 || h < 1) {
    throw new ApiError('Enter a custom width and height in whole pixels.');
  }
  return `${w}x${h}`;
}

// ---- key dialog ------------------------------------------------------------------------------

function askForKey(reason) {
  return new Promise((resolve) => {
    ui.keyInput.value = gatewayKey.get();
    ui.keyError.hidden = !reason || !gatewayKey.get();
    ui.keyError.textContent = reason || '';
    const done = (ok) => {
      ui.keyForm.removeEventListener('submit', onSubmit);
      ui.keyCancel.removeEventListener('click', onCancel);
      ui.keyDialog.removeEventListener('cancel', onCancel);
      if (ui.keyDialog.open) ui.keyDialog.close();
      resolve(ok);
    };
    const onSubmit = (e) => {
      e.preventDefault();
      const key = ui.keyInput.value.trim();
      if (!key) return;
      gatewayKey.set(key);
      ui.keyButton.hidden = false;
      done(true);
    };
    const onCancel = (e) => { e.preventDefault(); done(false); };
    ui.keyForm.addEventListener('submit', onSubmit);
    ui.keyCancel.addEventListener('click', onCancel);
    ui.keyDialog.addEventListener('cancel', onCancel);
    ui.keyDialog.showModal();
    ui.keyInput.focus();
  });
}

ui.keyButton.addEventListener('click', async () => {
  if (await askForKey('')) loadModels();
});
ui.keyForget.addEventListener('click', () => {
  gatewayKey.set('');
  ui.keyInput.value = '';
  ui.keyInput.focus();
});

// ---- running an edit -------------------------------------------------------------------------

function startProgress(model, n) {
  const started = performance.now();
  const steps = model.stream ? n * (PARTIAL_IMAGES + 1) : 0;
  let seen = 0;
  ui.progress.hidden = false;
  ui.progress.dataset.mode = model.stream ? 'stream' : 'spinner';
  ui.progressTrack.hidden = !model.stream;
  ui.progressBar.style.width = '0%';
  ui.progressTrack.setAttribute('aria-valuenow', '0');
  ui.progressLabel.textContent = model.stream ? 'Sending image…' : 'Editing…';
  const tick = () => { ui.progressTime.textContent = `${((performance.now() - started) / 1000).toFixed(1)} s`; };
  tick();
  const timer = setInterval(tick, 100);
  return {
    started,
    step(label, completedImages) {
      seen += 1;
      const done = Math.max(seen, completedImages * (PARTIAL_IMAGES + 1));
      const pct = steps ? Math.min(100, Math.round((done / steps) * 100)) : 0;
      ui.progressBar.style.width = `${pct}%`;
      ui.progressTrack.setAttribute('aria-valuenow', String(pct));
      ui.progressLabel.textContent = label;
    },
    stop() {
      clearInterval(timer);
      ui.progress.hidden = true;
    },
    seconds: () => (performance.now() - started) / 1000,
  };
}

async function submit() {
  if (state.running || !editor.hasImage) return;
  hideError();
  const model = selectedModel();
  const n = Math.min(10, Math.max(1, Math.round(Number(ui.n.value) || 1)));
  ui.n.value = String(n);
  let size;
  try {
    size = requestedSize();
  } catch (err) {
    showError(err.message, 'Check the size');
    return;
  }
  const prompt = ui.prompt.value.trim() ? ui.prompt.value : model.local ? LOCAL_PROMPT : '';
  if (!prompt) {
    showError('Describe the edit you want in the prompt.', 'Prompt needed');
    ui.prompt.focus();
    return;
  }
  if (editor.isMaskEmpty() && !editor.hasAlpha && model.local) {
    showError('Paint over the part of the picture to replace first: the local engine fills only the masked area.', 'Nothing to edit');
    return;
  }

  const controller = new AbortController();
  state.running = controller;
  ui.submit.disabled = true;
  ui.cancel.hidden = false;
  ui.form.setAttribute('aria-busy', 'true');
  const progress = startProgress(model, n);
  let pending = null;
  let beforeUrl = '';
  let received = 0;
  let chain = Promise.resolve();
  try {
    const [image, mask] = await Promise.all([
      editor.imagePng(),
      editor.isMaskEmpty() ? Promise.resolve(null) : editor.maskPng(),
    ]);
    beforeUrl = URL.createObjectURL(image);
    const label = n > 1 ? `${model.id} × ${n}` : model.id;
    pending = gallery.pending(beforeUrl, label);
    let anchor = pending.card;
    if (model.stream) progress.step('Waiting for the first preview…', 0);
    await editImage(
      { image, mask, prompt, model, n, size, outputFormat: ui.format.value },
      {
        signal: controller.signal,
        partialImages: PARTIAL_IMAGES,
        onPartial: (src, index) => {
          pending.showPartial(src, index);
          progress.step(`Preview ${index + 1} of ${PARTIAL_IMAGES}${n > 1 ? ` (image ${received + 1} of ${n})` : ''}`, received);
        },
        onImage: (src) => {
          received += 1;
          progress.step(received < n ? `Image ${received} of ${n} done` : 'Finishing…', received);
          const seconds = progress.seconds();
          chain = chain.then(async () => {
            anchor = await gallery.add({ beforeUrl, src, label: model.id, seconds, anchor });
          });
        },
      },
    );
    await chain;
  } catch (err) {
    await chain.catch(() => {});
    if (err?.name === 'AbortError') {
      if (!received) showError('The edit was cancelled.', 'Cancelled');
    } else if (err instanceof ApiError && err.needsKey) {
      showError(err.message, 'API key required');
      if (await askForKey(err.message)) {
        cleanup();
        return submit();
      }
    } else {
      showError(err?.message || String(err));
    }
  }
  cleanup();

  function cleanup() {
    progress.stop();
    pending?.remove();
    if (!received && beforeUrl) URL.revokeObjectURL(beforeUrl);
    state.running = null;
    ui.cancel.hidden = true;
    ui.form.removeAttribute('aria-busy');
    syncControls();
  }
}

ui.form.addEventListener('submit', (e) => {
  e.preventDefault();
  submit();
});
ui.cancel.addEventListener('click', () => state.running?.abort());

// ---- keyboard --------------------------------------------------------------------------------

function isTextField(target) {
  if (!(target instanceof HTMLElement)) return false;
  if (target.isContentEditable || target instanceof HTMLTextAreaElement || target instanceof HTMLSelectElement) return true;
  return target instanceof HTMLInputElement && !['range', 'checkbox', 'radio', 'button', 'file'].includes(target.type);
}

document.addEventListener('keydown', (e) => {
  if (ui.keyDialog.open) return;
  const mod = isMac ? e.metaKey : e.ctrlKey;
  const key = e.key.toLowerCase();
  if (key === 'enter' && (mod || e.target === ui.prompt && !e.shiftKey)) {
    e.preventDefault();
    submit();
    return;
  }
  if (isTextField(e.target)) return;
  if (mod && key === 'z') {
    e.preventDefault();
    if (e.shiftKey) editor.redo(); else editor.undo();
  } else if (mod && key === 'y') {
    e.preventDefault();
    editor.redo();
  } else if (mod || e.altKey) {
    return;
  } else if (key === 'b') {
    setTool('brush');
  } else if (key === 'e') {
    setTool('eraser');
  } else if (e.key === '[') {
    setBrushSize(Number(ui.size.value) / 1.25);
  } else if (e.key === ']') {
    setBrushSize(Number(ui.size.value) * 1.25 + 1);
  } else if (key === 'enter' && !(e.target instanceof HTMLButtonElement || e.target instanceof HTMLAnchorElement)) {
    e.preventDefault();
    submit();
  }
});

if (isMac) for (const k of document.querySelectorAll('.mod-key')) k.textContent = '⌘';

setBrushSize(Number(ui.size.value));
syncControls();
renderModels();
loadModels();
