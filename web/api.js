// Talking to the server: the model list, the edit call (JSON or server-sent events) and the
// gateway key. Nothing here touches the DOM; errors come back as ApiError carrying the
// server's own OpenAI-shaped message.

const KEY_STORAGE = 'retouch.gatewayKey';
const FALLBACK_MODEL = {
  id: 'retouch-fill',
  stream: true,
  local: true,
  description: 'The built-in content-aware fill engine.',
};

export class ApiError extends Error {
  constructor(message, { status = 0, type = '', code = '', param = '' } = {}) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.type = type;
    this.code = code;
    this.param = param;
  }
  get needsKey() { return this.status === 401; }
}

/** The session's gateway key: sessionStorage only, so it dies with the tab. */
export const gatewayKey = {
  get() {
    try { return sessionStorage.getItem(KEY_STORAGE) || ''; } catch { return ''; }
  },
  set(value) {
    try {
      if (value) sessionStorage.setItem(KEY_STORAGE, value);
      else sessionStorage.removeItem(KEY_STORAGE);
    } catch { /* storage disabled: the key simply is not kept */ }
  },
};

function headers() {
  const key = gatewayKey.get();
  return key ? { authorization: `Bearer ${key}` } : {};
}

async function errorFrom(response) {
  let body = null;
  const text = await response.text().catch(() => '');
  try { body = JSON.parse(text); } catch { /* not JSON: fall through to the status text */ }
  const err = body && typeof body === 'object' ? body.error : null;
  const message = (err && typeof err.message === 'string' && err.message)
    || (typeof err === 'string' && err)
    || text.trim().slice(0, 500)
    || `${response.status} ${response.statusText}`.trim();
  return new ApiError(message, {
    status: response.status,
    type: err?.type ?? '',
    code: err?.code ?? '',
    param: err?.param ?? '',
  });
}

async function send(url, init) {
  try {
    return await fetch(url, init);
  } catch (cause) {
    if (cause?.name === 'AbortError') throw cause;
    throw new ApiError(`Could not reach the server (${cause?.message || 'network error'}).`);
  }
}

/** What the page needs to know about a model, from `/v1/models` or guessed from its id. */
function describe(entry) {
  const id = String(entry.id);
  const ext = entry.retouch && typeof entry.retouch === 'object' ? entry.retouch : null;
  const gpt = /^(gpt-image|chatgpt-image)/.test(id);
  return {
    id,
    stream: ext ? Boolean(ext.stream) : gpt,
    local: ext ? ext.provider === 'local' : id === 'retouch-fill',
    provider: ext?.provider ?? entry.owned_by ?? '',
    mask: ext ? ext.mask !== false : true,
    description: ext?.description ?? '',
    // GPT image models always answer in base64 and reject `response_format`.
    sendsResponseFormat: !gpt,
    // dall-e-2 has no `output_format`.
    outputFormat: id !== 'dall-e-2',
  };
}

/**
 * The models the caller may use. Throws ApiError (401 included) when the server answered with
 * an error; the caller decides whether to ask for a key or fall back.
 */
export async function listModels() {
  const response = await send('/v1/models', { headers: headers() });
  if (!response.ok) throw await errorFrom(response);
  const body = await response.json();
  const models = Array.isArray(body?.data) ? body.data.filter((m) => m && m.id).map(describe) : [];
  return models.length ? models : [describe(FALLBACK_MODEL)];
}

export function fallbackModels() {
  return [describe({ id: FALLBACK_MODEL.id, retouch: { provider: 'local', stream: true, mask: true, description: FALLBACK_MODEL.description } })];
}

function imageSource(item, format) {
  if (item?.b64_json) return `data:image/${format === 'jpeg' ? 'jpeg' : format || 'png'};base64,${item.b64_json}`;
  if (item?.url) return item.url;
  return '';
}

/**
 * Runs one edit. `request` holds the form fields; `handlers.onPartial(src, index)` and
 * `handlers.onImage(src, index)` are called as images arrive. Resolves when the server is done.
 */
export async function editImage(request, { signal, onPartial, onImage, partialImages = 3 }) {
  const { model } = request;
  const form = new FormData();
  form.append('image', request.image, 'image.png');
  if (request.mask) form.append('mask', request.mask, 'mask.png');
  form.append('prompt', request.prompt);
  form.append('model', model.id);
  form.append('n', String(request.n));
  if (request.size) form.append('size', request.size);
  const format = model.outputFormat ? request.outputFormat : 'png';
  if (model.outputFormat) form.append('output_format', format);
  if (model.sendsResponseFormat) form.append('response_format', 'b64_json');
  if (model.stream) {
    form.append('stream', 'true');
    form.append('partial_images', String(partialImages));
  }

  const response = await send('/v1/images/edits', { method: 'POST', body: form, headers: headers(), signal });
  if (!response.ok) throw await errorFrom(response);

  const type = response.headers.get('content-type') || '';
  if (type.startsWith('text/event-stream')) {
    await readEvents(response, format, { onPartial, onImage });
    return;
  }
  const body = await response.json().catch(() => null);
  if (body?.error) throw new ApiError(body.error.message || 'The server reported an error.', body.error);
  const data = Array.isArray(body?.data) ? body.data : [];
  const sources = data.map((item) => imageSource(item, body.output_format || format)).filter(Boolean);
  if (!sources.length) throw new ApiError('The server answered without any image.');
  sources.forEach((src, i) => onImage(src, i));
}

/** Parses `text/event-stream` incrementally (EventSource cannot POST). */
async function readEvents(response, format, { onPartial, onImage }) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  let completed = 0;
  const dispatch = (block) => {
    let event = '';
    const data = [];
    for (const line of block.split(/\r\n|\r|\n/)) {
      if (!line || line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon === -1 ? line : line.slice(0, colon);
      let value = colon === -1 ? '' : line.slice(colon + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      if (field === 'event') event = value;
      else if (field === 'data') data.push(value);
    }
    if (!data.length) return;
    const text = data.join('\n');
    if (text === '[DONE]') return;
    let payload;
    try { payload = JSON.parse(text); } catch { throw new ApiError('The server sent an unreadable event.'); }
    const kind = payload.type || event;
    if (payload.error || kind === 'error') {
      const err = payload.error || {};
      throw new ApiError(err.message || 'The edit failed while streaming.', err);
    }
    const src = imageSource(payload, payload.output_format || format);
    if (kind.endsWith('partial_image') && src) onPartial(src, payload.partial_image_index ?? 0);
    else if (kind.endsWith('completed') && src) onImage(src, completed++);
  };
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (value) buffer += value;
      let split;
      while ((split = buffer.search(/\r\n\r\n|\n\n|\r\r/)) !== -1) {
        const block = buffer.slice(0, split);
        buffer = buffer.slice(split).replace(/^(\r\n\r\n|\n\n|\r\r)/, '');
        dispatch(block);
      }
      if (done) break;
    }
    if (buffer.trim()) dispatch(buffer);
  } finally {
    // After an error event the server may keep the connection open; stop reading it.
    reader.cancel().catch(() => {});
  }
  if (!completed) throw new ApiError('The stream ended before the edited image arrived.');
}
