// The results gallery: one card per edited image with a before/after slider, a download link
// and "use as input"; plus the pending card that shows partial images while an edit streams.

const EXTENSIONS = { 'image/png': 'png', 'image/jpeg': 'jpg', 'image/webp': 'webp' };

function el(tag, className, attrs = {}) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
  return node;
}

function icon(name) {
  const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
  svg.setAttribute('class', 'icon');
  svg.setAttribute('aria-hidden', 'true');
  const use = document.createElementNS('http://www.w3.org/2000/svg', 'use');
  use.setAttribute('href', `#${name}`);
  svg.append(use);
  return svg;
}

/**
 * Turns a `data:` URL into a Blob without `fetch` (the page's CSP only lets it connect to its
 * own origin). Other sources (a signed link on this server) are fetched.
 */
export async function sourceToBlob(src) {
  const match = /^data:([^;,]+)?(;base64)?,/.exec(src);
  if (!match) {
    const response = await fetch(src);
    if (!response.ok) throw new Error(`Could not download the result (${response.status}).`);
    return response.blob();
  }
  const payload = src.slice(match[0].length);
  let bytes;
  if (match[2]) {
    const binary = atob(payload);
    bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  } else {
    bytes = new TextEncoder().encode(decodeURIComponent(payload));
  }
  return new Blob([bytes], { type: match[1] || 'application/octet-stream' });
}

/** A before/after comparison: the "before" image is clipped to the left of the slider. */
function compare(beforeUrl, afterUrl, label) {
  const figure = el('figure', 'compare');
  figure.style.setProperty('--pos', '50%');
  const after = el('img', 'after', { alt: `${label}, after`, draggable: 'false' });
  after.src = afterUrl;
  const before = el('img', 'before', { alt: `${label}, before`, draggable: 'false' });
  before.src = beforeUrl;
  const handle = el('div', 'compare-handle', { 'aria-hidden': 'true' });
  const range = el('input', 'compare-range', {
    type: 'range', min: '0', max: '100', step: '0.5', value: '50',
    'aria-label': 'Before / after: slide to compare',
  });
  range.addEventListener('input', () => figure.style.setProperty('--pos', `${range.value}%`));
  const tagBefore = el('span', 'tag tag-before', { 'aria-hidden': 'true' });
  tagBefore.textContent = 'Before';
  const tagAfter = el('span', 'tag tag-after', { 'aria-hidden': 'true' });
  tagAfter.textContent = 'After';
  figure.append(after, before, handle, range, tagBefore, tagAfter);
  return figure;
}

export class Gallery {
  /**
   * @param {HTMLOListElement} list
   * @param {HTMLElement} empty  shown while there are no results
   * @param {HTMLElement} count
   * @param {{onReuse: (blob: Blob) => void, onError: (message: string) => void}} handlers
   */
  constructor(list, empty, count, handlers) {
    this.list = list;
    this.empty = empty;
    this.count = count;
    this.handlers = handlers;
    this.total = 0;
  }

  refresh() {
    const done = this.list.querySelectorAll('.result:not(.pending)').length;
    this.empty.hidden = this.list.children.length > 0;
    this.count.textContent = done ? `${done} image${done === 1 ? '' : 's'}` : '';
  }

  /** Shows a placeholder for a running edit; returns handles to feed it partial images. */
  pending(beforeUrl, label) {
    const card = el('li', 'result pending', { 'aria-busy': 'true' });
    const frame = el('div', 'pending-frame');
    const before = el('img', 'pending-before', { alt: '', draggable: 'false' });
    before.src = beforeUrl;
    const partial = el('img', 'partial', { alt: 'Partial result', draggable: 'false', hidden: '' });
    const shimmer = el('div', 'shimmer', { 'aria-hidden': 'true' });
    frame.append(before, partial, shimmer);
    const caption = el('p', 'result-meta');
    caption.textContent = `${label} · waiting for the first preview…`;
    card.append(frame, caption);
    this.list.prepend(card);
    this.refresh();
    let partials = 0;
    return {
      showPartial: (src, index) => {
        partials += 1;
        partial.src = src;
        partial.hidden = false;
        partial.dataset.partialIndex = String(index);
        card.dataset.partials = String(partials);
        caption.textContent = `${label} · preview ${partials}`;
      },
      remove: () => {
        card.remove();
        this.refresh();
      },
      card,
    };
  }

  /** Adds a finished result; `src` is a data URL or a link on this server. */
  async add({ beforeUrl, src, label, seconds, anchor }) {
    const blob = await sourceToBlob(src);
    const url = URL.createObjectURL(blob);
    this.total += 1;
    const number = this.total;
    const card = el('li', 'result');
    card.dataset.result = String(number);
    const figure = compare(beforeUrl, url, `Result ${number}`);
    const meta = el('p', 'result-meta');
    const size = el('span', 'result-size');
    meta.append(`#${number} · ${label} · ${seconds.toFixed(1)} s`, size);
    const after = figure.querySelector('img.after');
    after.addEventListener('load', () => {
      size.textContent = ` · ${after.naturalWidth} × ${after.naturalHeight}`;
      card.dataset.width = String(after.naturalWidth);
      card.dataset.height = String(after.naturalHeight);
      figure.style.aspectRatio = `${after.naturalWidth} / ${after.naturalHeight}`;
      card.classList.add('loaded');
    }, { once: true });

    const actions = el('div', 'result-actions');
    const download = el('a', 'btn btn-small btn-ghost', {
      href: url,
      download: `retouch-${number}.${EXTENSIONS[blob.type] || 'png'}`,
    });
    download.append(icon('i-download'), 'Download');
    const reuse = el('button', 'btn btn-small btn-ghost reuse', { type: 'button' });
    reuse.append(icon('i-reuse'), 'Use as input');
    reuse.addEventListener('click', () => this.handlers.onReuse(blob));
    actions.append(download, reuse);
    card.append(figure, meta, actions);
    // Keep a run's images together and in order, just after its pending card if still shown.
    if (anchor && anchor.isConnected) anchor.after(card);
    else this.list.prepend(card);
    this.refresh();
    return card;
  }
}
