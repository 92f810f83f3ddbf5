/* The device's image editor: /ui/editor.html?session=ID (opened by imagepro=start_editor).
 *
 * Reads the session (editor=session), edits each image at full resolution in the browser —
 * crop with handles, 90° turns, deskew by a free angle, brightness and contrast, pen and text
 * annotations, undo (Ctrl+Z) over a history of full-resolution states — and saves it back
 * (editor=save), after which imagepro=get_editor_images lists it.
 *
 * window.editorState = {session, index, width, height, historyLength, mode, crop, loaded,
 * saved, savedPaths, ready} is kept current for tests and tools. */
'use strict';

(function () {
  const api = window.CameraApi;
  const $ = (id) => document.getElementById(id);

  const HISTORY_LIMIT = 30;
  const HIT = 9; // display pixels around a handle or edge that grab it
  const MIN_CROP = 4; // image pixels
  const JPEG_QUALITY = 0.92;

  const session = new URLSearchParams(location.search).get('session') || '';
  const view = $('canvas');
  const stage = $('stage');

  /* Per image: {info, thumb, work, original, history, version, saved, loading} */
  const images = [];
  let current = -1;
  let mode = 'none'; // none | crop | pen | text
  let crop = null; // {x, y, w, h} in image pixels
  let drag = null;
  let stroke = null;
  let renderQueued = false;
  let previewCache = null;

  window.editorState = {
    session, index: -1, width: 0, height: 0, historyLength: 0, mode, crop: null,
    loaded: false, saved: '', savedPaths: {}, ready: false,
  };

  // ------------------------------------------------------------------ canvases

  function newCanvas(w, h) {
    const c = document.createElement('canvas');
    c.width = Math.max(1, Math.round(w));
    c.height = Math.max(1, Math.round(h));
    return c;
  }

  function ctx2d(c, readback) {
    return c.getContext('2d', readback ? { willReadFrequently: true } : undefined);
  }

  function copyCanvas(src) {
    const c = newCanvas(src.width, src.height);
    ctx2d(c).drawImage(src, 0, 0);
    return c;
  }

  function cropCanvas(src, r) {
    const c = newCanvas(r.w, r.h);
    const g = ctx2d(c);
    g.imageSmoothingEnabled = false;
    g.drawImage(src, r.x, r.y, r.w, r.h, 0, 0, r.w, r.h);
    return c;
  }

  /* A quarter turn: clockwise maps (x, y) to (H-1-y, x). */
  function rotate90(src, clockwise) {
    const c = newCanvas(src.height, src.width);
    const g = ctx2d(c);
    g.imageSmoothingEnabled = false;
    if (clockwise) {
      g.translate(c.width, 0);
      g.rotate(Math.PI / 2);
    } else {
      g.translate(0, c.height);
      g.rotate(-Math.PI / 2);
    }
    g.drawImage(src, 0, 0);
    return c;
  }

  /* A turn by any angle (degrees, positive = clockwise); the canvas grows to hold the whole
   * picture and the corners are white. */
  function rotateFree(src, deg) {
    const r = (deg * Math.PI) / 180;
    const cos = Math.abs(Math.cos(r));
    const sin = Math.abs(Math.sin(r));
    const c = newCanvas(src.width * cos + src.height * sin, src.width * sin + src.height * cos);
    const g = ctx2d(c);
    g.fillStyle = '#ffffff';
    g.fillRect(0, 0, c.width, c.height);
    g.translate(c.width / 2, c.height / 2);
    g.rotate(r);
    g.imageSmoothingEnabled = true;
    g.imageSmoothingQuality = 'high';
    g.drawImage(src, -src.width / 2, -src.height / 2);
    return c;
  }

  /* Brightness -100..100 shifts levels by up to ±128; contrast -100..100 scales them around
   * the middle grey (factor 0.12 .. 7.8). */
  function adjustLut(brightness, contrast) {
    const off = brightness * 1.28;
    const k = contrast * 2;
    const f = (259 * (k + 255)) / (255 * (259 - k));
    const lut = new Uint8ClampedArray(256);
    for (let v = 0; v < 256; v++) lut[v] = f * (v - 128) + 128 + off;
    return lut;
  }

  function applyLut(src, lut) {
    const c = copyCanvas(src);
    const g = ctx2d(c, true);
    const d = g.getImageData(0, 0, c.width, c.height);
    const a = d.data;
    for (let i = 0; i < a.length; i += 4) {
      a[i] = lut[a[i]];
      a[i + 1] = lut[a[i + 1]];
      a[i + 2] = lut[a[i + 2]];
    }
    g.putImageData(d, 0, 0);
    return c;
  }

  function scaledCopy(src, s) {
    if (s >= 1) return src;
    const c = newCanvas(src.width * s, src.height * s);
    const g = ctx2d(c);
    g.imageSmoothingEnabled = true;
    g.imageSmoothingQuality = 'high';
    g.drawImage(src, 0, 0, c.width, c.height);
    return c;
  }

  // ------------------------------------------------------------------ state

  function cur() {
    return current >= 0 ? images[current] : null;
  }

  function sliders() {
    return {
      deskew: Number($('deskew').value) || 0,
      brightness: Number($('brightness').value) || 0,
      contrast: Number($('contrast').value) || 0,
    };
  }

  function hasPreview() {
    const s = sliders();
    return s.deskew !== 0 || s.brightness !== 0 || s.contrast !== 0;
  }

  function resetSliders() {
    $('deskew').value = '0';
    $('brightness').value = '0';
    $('contrast').value = '0';
    showSliderValues();
    previewCache = null;
  }

  function showSliderValues() {
    const s = sliders();
    $('deskew-value').textContent = s.deskew.toFixed(1) + '°';
    $('brightness-value').textContent = String(s.brightness);
    $('contrast-value').textContent = String(s.contrast);
  }

  function sync() {
    const im = cur();
    const w = im && im.work ? im.work.width : 0;
    const h = im && im.work ? im.work.height : 0;
    Object.assign(window.editorState, {
      index: im ? im.info.index : -1,
      width: w,
      height: h,
      historyLength: im ? im.history.length : 0,
      mode,
      crop: crop ? { ...crop } : null,
      loaded: !!(im && im.work),
      saved: im ? im.saved : '',
    });
    $('size').textContent = im && im.work ? '尺寸 / size ' + w + ' × ' + h : '';
    $('history-count').textContent = im ? '可撤销 / undo steps: ' + im.history.length : '';
    const ready = !!(im && im.work);
    for (const id of ['crop-mode', 'rotate-left', 'rotate-right', 'deskew-apply', 'adjust-apply', 'tool-pen', 'tool-text', 'reset', 'save']) {
      $(id).disabled = !ready;
    }
    for (const id of ['deskew', 'brightness', 'contrast']) $(id).disabled = !ready;
    view.hidden = !ready;
    $('undo').disabled = !(im && im.history.length);
    for (const id of ['crop-x', 'crop-y', 'crop-w', 'crop-h', 'crop-apply', 'crop-cancel']) $(id).disabled = mode !== 'crop';
    if (mode !== 'crop') for (const id of ['crop-x', 'crop-y', 'crop-w', 'crop-h']) $(id).value = '';
    $('crop-mode').classList.toggle('active', mode === 'crop');
    $('tool-pen').classList.toggle('active', mode === 'pen');
    $('tool-text').classList.toggle('active', mode === 'text');
    stage.className = 'stage mode-' + mode;
  }

  function setMessage(text) {
    $('stage-message').textContent = text || '';
  }

  /* Replaces the current picture with `next`, keeping the old one for undo. */
  function commit(next) {
    const im = cur();
    pushHistory(im, im.work);
    im.work = next;
    im.version += 1;
    resetSliders();
    requestRender();
    sync();
  }

  function pushHistory(im, canvas) {
    im.history.push(canvas);
    while (im.history.length > HISTORY_LIMIT) im.history.shift();
  }

  function undo() {
    const im = cur();
    if (!im || !im.history.length) return;
    if (mode === 'crop') setMode('none');
    im.work = im.history.pop();
    im.version += 1;
    resetSliders();
    requestRender();
    sync();
  }

  function resetImage() {
    const im = cur();
    if (!im || !im.original) return;
    setMode('none');
    commit(copyCanvas(im.original));
  }

  function setMode(next) {
    if (next === mode) next = 'none';
    mode = next;
    if (mode === 'crop') {
      const im = cur();
      resetSliders();
      const w = im.work.width;
      const h = im.work.height;
      const mx = Math.round(w * 0.05);
      const my = Math.round(h * 0.05);
      crop = { x: mx, y: my, w: w - 2 * mx, h: h - 2 * my };
      showCropInputs();
    } else {
      crop = null;
      drag = null;
    }
    requestRender();
    sync();
  }

  // ------------------------------------------------------------------ drawing the view

  function requestRender() {
    if (renderQueued) return;
    renderQueued = true;
    requestAnimationFrame(() => {
      renderQueued = false;
      render();
    });
  }

  /* What the view shows: the picture, or a preview of the slider settings computed on a copy
   * at display size (the sliders act on the full picture only when applied). */
  function shown(fit) {
    const im = cur();
    if (!hasPreview()) return im.work;
    const s = sliders();
    const key = im.version + ':' + fit.toFixed(4) + ':' + s.deskew + ':' + s.brightness + ':' + s.contrast;
    if (previewCache && previewCache.key === key) return previewCache.canvas;
    let c = scaledCopy(im.work, fit);
    if (s.brightness !== 0 || s.contrast !== 0) c = applyLut(c, adjustLut(s.brightness, s.contrast));
    if (s.deskew !== 0) c = rotateFree(c, s.deskew);
    previewCache = { key, canvas: c };
    return c;
  }

  function render() {
    const im = cur();
    if (!im || !im.work) return;
    const aw = Math.max(50, stage.clientWidth - 24);
    const ah = Math.max(50, stage.clientHeight - 24);
    const fit = Math.min(1, aw / im.work.width, ah / im.work.height);
    const src = shown(fit);
    // A preview is smaller than the picture (and a deskew preview larger than its copy).
    const s = Math.min(aw / src.width, ah / src.height, src === im.work ? 1 : Infinity);
    const cw = Math.max(1, Math.round(src.width * s));
    const ch = Math.max(1, Math.round(src.height * s));
    const dpr = window.devicePixelRatio || 1;
    view.style.width = cw + 'px';
    view.style.height = ch + 'px';
    if (view.width !== Math.round(cw * dpr) || view.height !== Math.round(ch * dpr)) {
      view.width = Math.round(cw * dpr);
      view.height = Math.round(ch * dpr);
    }
    const g = ctx2d(view);
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, cw, ch);
    g.imageSmoothingEnabled = true;
    g.imageSmoothingQuality = 'high';
    g.drawImage(src, 0, 0, cw, ch);
    if (mode === 'crop' && crop) drawCrop(g, cw / im.work.width, cw, ch);
  }

  function handles(r) {
    const x2 = r.x + r.w;
    const y2 = r.y + r.h;
    const mx = r.x + r.w / 2;
    const my = r.y + r.h / 2;
    return { nw: [r.x, r.y], n: [mx, r.y], ne: [x2, r.y], e: [x2, my], se: [x2, y2], s: [mx, y2], sw: [r.x, y2], w: [r.x, my] };
  }

  function drawCrop(g, s, cw, ch) {
    const r = { x: crop.x * s, y: crop.y * s, w: crop.w * s, h: crop.h * s };
    g.save();
    g.fillStyle = 'rgba(0, 0, 0, 0.45)';
    g.beginPath();
    g.rect(0, 0, cw, ch);
    g.rect(r.x, r.y, r.w, r.h);
    g.fill('evenodd');
    g.strokeStyle = '#ffffff';
    g.lineWidth = 1.5;
    g.setLineDash([6, 4]);
    g.strokeRect(r.x, r.y, r.w, r.h);
    g.setLineDash([]);
    g.strokeStyle = 'rgba(255,255,255,0.5)';
    g.lineWidth = 0.75;
    for (let k = 1; k < 3; k++) {
      g.beginPath();
      g.moveTo(r.x + (r.w * k) / 3, r.y);
      g.lineTo(r.x + (r.w * k) / 3, r.y + r.h);
      g.moveTo(r.x, r.y + (r.h * k) / 3);
      g.lineTo(r.x + r.w, r.y + (r.h * k) / 3);
      g.stroke();
    }
    g.fillStyle = '#ffffff';
    g.strokeStyle = '#1769c2';
    g.lineWidth = 1.5;
    for (const [hx, hy] of Object.values(handles(r))) {
      g.fillRect(hx - 5, hy - 5, 10, 10);
      g.strokeRect(hx - 5, hy - 5, 10, 10);
    }
    g.restore();
  }

  // ------------------------------------------------------------------ crop

  function clampCrop(r) {
    const im = cur();
    const W = im.work.width;
    const H = im.work.height;
    let x = Math.round(Math.min(Math.max(0, r.x), W - MIN_CROP));
    let y = Math.round(Math.min(Math.max(0, r.y), H - MIN_CROP));
    let w = Math.round(Math.max(MIN_CROP, Math.min(r.w, W - x)));
    let h = Math.round(Math.max(MIN_CROP, Math.min(r.h, H - y)));
    if (x + w > W) x = W - w;
    if (y + h > H) y = H - h;
    return { x, y, w, h };
  }

  function showCropInputs() {
    if (!crop) return;
    $('crop-x').value = String(crop.x);
    $('crop-y').value = String(crop.y);
    $('crop-w').value = String(crop.w);
    $('crop-h').value = String(crop.h);
    const im = cur();
    $('crop-x').max = String(im.work.width - 1);
    $('crop-y').max = String(im.work.height - 1);
    $('crop-w').max = String(im.work.width);
    $('crop-h').max = String(im.work.height);
  }

  function cropFromInputs(normalise) {
    if (mode !== 'crop') return;
    const n = (id) => Number($(id).value);
    const r = { x: n('crop-x'), y: n('crop-y'), w: n('crop-w'), h: n('crop-h') };
    if (Object.values(r).some((v) => !Number.isFinite(v))) return;
    crop = clampCrop(r);
    if (normalise) showCropInputs();
    requestRender();
    sync();
  }

  function applyCrop() {
    if (mode !== 'crop' || !crop) return;
    cropFromInputs(false);
    const r = crop;
    const im = cur();
    mode = 'none';
    crop = null;
    commit(cropCanvas(im.work, r));
  }

  /* Which part of the crop frame is under a view point: a handle, an edge, inside, or none. */
  function hitCrop(px, py) {
    const im = cur();
    const rect = view.getBoundingClientRect();
    const s = rect.width / im.work.width;
    const r = { x: crop.x * s, y: crop.y * s, w: crop.w * s, h: crop.h * s };
    for (const [name, [hx, hy]] of Object.entries(handles(r))) {
      if (Math.abs(px - hx) <= HIT && Math.abs(py - hy) <= HIT) return name;
    }
    const inY = py >= r.y - HIT && py <= r.y + r.h + HIT;
    const inX = px >= r.x - HIT && px <= r.x + r.w + HIT;
    if (inY && Math.abs(px - r.x) <= HIT / 2) return 'w';
    if (inY && Math.abs(px - (r.x + r.w)) <= HIT / 2) return 'e';
    if (inX && Math.abs(py - r.y) <= HIT / 2) return 'n';
    if (inX && Math.abs(py - (r.y + r.h)) <= HIT / 2) return 's';
    if (px > r.x && px < r.x + r.w && py > r.y && py < r.y + r.h) return 'move';
    return 'new';
  }

  const CURSORS = { nw: 'nwse-resize', se: 'nwse-resize', ne: 'nesw-resize', sw: 'nesw-resize', n: 'ns-resize', s: 'ns-resize', e: 'ew-resize', w: 'ew-resize', move: 'move', new: 'crosshair' };

  function dragCrop(p) {
    const im = cur();
    const W = im.work.width;
    const H = im.work.height;
    const dx = p.x - drag.start.x;
    const dy = p.y - drag.start.y;
    const r0 = drag.rect;
    let x1 = r0.x;
    let y1 = r0.y;
    let x2 = r0.x + r0.w;
    let y2 = r0.y + r0.h;
    const part = drag.part;
    if (part === 'move') {
      const x = Math.min(Math.max(0, r0.x + dx), W - r0.w);
      const y = Math.min(Math.max(0, r0.y + dy), H - r0.h);
      crop = { x: Math.round(x), y: Math.round(y), w: r0.w, h: r0.h };
      return;
    }
    if (part === 'new') {
      x1 = Math.min(drag.start.x, p.x);
      x2 = Math.max(drag.start.x, p.x);
      y1 = Math.min(drag.start.y, p.y);
      y2 = Math.max(drag.start.y, p.y);
    } else {
      if (part.includes('w')) x1 = Math.min(r0.x + dx, x2 - MIN_CROP);
      if (part.includes('e')) x2 = Math.max(r0.x + r0.w + dx, x1 + MIN_CROP);
      if (part.includes('n')) y1 = Math.min(r0.y + dy, y2 - MIN_CROP);
      if (part.includes('s')) y2 = Math.max(r0.y + r0.h + dy, y1 + MIN_CROP);
    }
    x1 = Math.max(0, x1);
    y1 = Math.max(0, y1);
    x2 = Math.min(W, x2);
    y2 = Math.min(H, y2);
    crop = clampCrop({ x: x1, y: y1, w: x2 - x1, h: y2 - y1 });
  }

  // ------------------------------------------------------------------ pointer input

  function pointerAt(e) {
    const im = cur();
    const rect = view.getBoundingClientRect();
    const px = e.clientX - rect.left;
    const py = e.clientY - rect.top;
    return { px, py, x: (px * im.work.width) / rect.width, y: (py * im.work.height) / rect.height };
  }

  /* Image pixels per view pixel: pen width and text size are given as they look on screen. */
  function viewToImage() {
    const im = cur();
    const w = view.getBoundingClientRect().width;
    return w > 0 ? im.work.width / w : 1;
  }

  function penStyle(g, k) {
    g.strokeStyle = $('pen-color').value;
    g.fillStyle = $('pen-color').value;
    g.lineWidth = Math.max(1, (Number($('pen-width').value) || 1) * k);
    g.lineCap = 'round';
    g.lineJoin = 'round';
  }

  function placeText(p) {
    const text = $('text-value').value;
    if (!text.trim()) {
      setMessage('请先输入文字 / type the text first');
      $('text-value').focus();
      return;
    }
    setMessage('');
    const im = cur();
    pushHistory(im, copyCanvas(im.work));
    const g = ctx2d(im.work);
    const size = Math.max(2, (Number($('text-size').value) || 24) * viewToImage());
    g.fillStyle = $('pen-color').value;
    g.font = size + 'px "WenQuanYi Zen Hei", "Noto Sans CJK SC", "Microsoft YaHei", sans-serif';
    g.textBaseline = 'top';
    text.split('\n').forEach((line, i) => g.fillText(line, p.x, p.y + i * size * 1.2));
    im.version += 1;
    requestRender();
    sync();
  }

  view.addEventListener('pointerdown', (e) => {
    const im = cur();
    if (!im || !im.work || e.button !== 0) return;
    if (hasPreview() && mode !== 'none') {
      resetSliders();
      render();
    }
    const p = pointerAt(e);
    if (mode === 'crop' && crop) {
      drag = { part: hitCrop(p.px, p.py), start: { x: p.x, y: p.y }, rect: { ...crop } };
      view.setPointerCapture(e.pointerId);
      e.preventDefault();
    } else if (mode === 'pen') {
      pushHistory(im, copyCanvas(im.work));
      const g = ctx2d(im.work);
      const k = viewToImage();
      penStyle(g, k);
      g.beginPath();
      g.arc(p.x, p.y, g.lineWidth / 2, 0, Math.PI * 2);
      g.fill();
      stroke = { last: p, k };
      im.version += 1;
      view.setPointerCapture(e.pointerId);
      requestRender();
      sync();
      e.preventDefault();
    } else if (mode === 'text') {
      placeText(p);
      e.preventDefault();
    }
  });

  view.addEventListener('pointermove', (e) => {
    const im = cur();
    if (!im || !im.work) return;
    const p = pointerAt(e);
    if (mode === 'crop' && crop) {
      if (drag) {
        dragCrop(p);
        showCropInputs();
        requestRender();
        sync();
      } else {
        view.style.cursor = CURSORS[hitCrop(p.px, p.py)] || 'default';
      }
    } else if (mode === 'pen' && stroke) {
      const g = ctx2d(im.work);
      penStyle(g, stroke.k);
      g.beginPath();
      g.moveTo(stroke.last.x, stroke.last.y);
      g.lineTo(p.x, p.y);
      g.stroke();
      stroke.last = p;
      im.version += 1;
      requestRender();
    } else {
      view.style.cursor = '';
    }
  });

  function endPointer(e) {
    if (drag || stroke) {
      drag = null;
      stroke = null;
      if (view.hasPointerCapture(e.pointerId)) view.releasePointerCapture(e.pointerId);
      sync();
    }
  }
  view.addEventListener('pointerup', endPointer);
  view.addEventListener('pointercancel', endPointer);

  // ------------------------------------------------------------------ images and the session

  function loadPicture(url) {
    return new Promise((resolve, reject) => {
      const img = new Image();
      if (new URL(url, location.href).origin !== location.origin) img.crossOrigin = 'anonymous';
      img.onload = () => resolve(img);
      img.onerror = () => reject(new Error('图像无法加载 / cannot load ' + url));
      img.src = url;
    });
  }

  async function ensureLoaded(im) {
    if (im.work) return;
    if (!im.loading) {
      im.loading = (async () => {
        const urls = [];
        if (im.info.url) urls.push(new URL(im.info.url, api.base + '/').href);
        if (im.info.filepath) urls.push(api.storageUrl(im.info.filepath));
        let lastErr = new Error('no address for image ' + im.info.index);
        for (const u of urls) {
          try {
            const pic = await loadPicture(u);
            const c = newCanvas(pic.naturalWidth, pic.naturalHeight);
            ctx2d(c).drawImage(pic, 0, 0);
            im.original = c;
            im.work = copyCanvas(c);
            im.version += 1;
            return;
          } catch (e) {
            lastErr = e;
          }
        }
        throw lastErr;
      })();
    }
    try {
      await im.loading;
    } finally {
      im.loading = null;
    }
  }

  async function select(i) {
    if (i < 0 || i >= images.length) return;
    if (mode !== 'none') setMode('none');
    resetSliders();
    current = i;
    images.forEach((im, k) => im.thumb.classList.toggle('selected', k === i));
    const im = images[i];
    $('save-format').value = /\.png$/i.test(im.saved || im.info.filepath || '') ? 'png' : 'jpeg';
    showSaved(im);
    sync();
    if (!im.work) {
      setMessage('加载中 / loading …');
      clearView();
      try {
        await ensureLoaded(im);
      } catch (e) {
        if (current === i) setMessage(api.describeError(e));
        return;
      }
      if (current !== i) return;
    }
    setMessage('');
    render();
    sync();
  }

  function clearView() {
    const g = ctx2d(view);
    g.setTransform(1, 0, 0, 1, 0, 0);
    g.clearRect(0, 0, view.width, view.height);
  }

  function showSaved(im) {
    const link = $('saved-link');
    if (im && im.saved) {
      link.href = api.storageUrl(im.saved);
      link.textContent = '已保存 / saved: ' + im.saved;
      link.dataset.filepath = im.saved;
      link.hidden = false;
    } else {
      link.hidden = true;
      link.textContent = '';
      link.dataset.filepath = '';
    }
  }

  function thumb(info, i) {
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'thumb';
    b.dataset.index = String(info.index);
    b.setAttribute('data-testid', 'thumb-' + i);
    const img = document.createElement('img');
    img.alt = info.filepath || '#' + info.index;
    img.src = info.url ? new URL(info.url, api.base + '/').href : api.storageUrl(info.filepath);
    const mark = document.createElement('span');
    mark.className = 'saved-mark';
    mark.textContent = info.saved ? '✓' : '';
    const label = document.createElement('span');
    label.className = 'label';
    label.textContent = (i + 1) + '. ' + String(info.filepath || '').split('/').pop();
    b.append(img, mark, label);
    b.addEventListener('click', () => select(i));
    return b;
  }

  /* Same shape of result box as the demo page: data-state pending/done/error, data-code. */
  async function run(box, endpoint, body) {
    const summary = box.querySelector('.summary');
    box.dataset.state = 'pending';
    box.dataset.code = '';
    box.classList.remove('ok', 'fail', 'error');
    summary.textContent = '… ' + endpoint;
    try {
      const { reply, ms } = await api.request(endpoint, body, { quiet: true });
      box.dataset.code = String(reply.code);
      box.classList.add(reply.code === '0' ? 'ok' : 'fail');
      summary.textContent = endpoint + ': code ' + reply.code + (reply.message ? ' — ' + reply.message : '') + ' · ' + ms + ' ms';
      box.dataset.state = 'done';
      return reply;
    } catch (e) {
      box.dataset.code = 'ERR';
      box.classList.add('error');
      summary.textContent = endpoint + ': ' + api.describeError(e);
      box.dataset.state = 'error';
      return null;
    }
  }

  async function loadSession() {
    $('session-id').textContent = session || '—';
    sync();
    if (!session) {
      const box = $('load-result');
      box.dataset.state = 'error';
      box.dataset.code = 'ERR';
      box.classList.add('error');
      box.querySelector('.summary').textContent = '缺少会话 / no session';
      setMessage('请从演示页打开编辑器（imagepro=start_editor）/ open the editor through imagepro=start_editor, e.g. from the demo page');
      return;
    }
    setMessage('加载中 / loading …');
    const r = await run($('load-result'), 'editor=session', { session });
    if (!r || r.code !== '0') {
      setMessage(r ? (r.message || 'code ' + r.code) : $('load-result').textContent);
      return;
    }
    const thumbs = $('thumbs');
    (r.images || []).forEach((info, i) => {
      const im = { info, thumb: thumb(info, i), work: null, original: null, history: [], version: 0, saved: info.saved || '', loading: null };
      if (im.saved) window.editorState.savedPaths[info.index] = im.saved;
      images.push(im);
      thumbs.appendChild(im.thumb);
    });
    window.editorState.ready = true;
    if (images.length) await select(0);
    else setMessage('会话中没有图像 / the session has no image');
  }

  // ------------------------------------------------------------------ saving

  async function save() {
    const im = cur();
    if (!im || !im.work) return;
    if (mode === 'crop') setMode('none');
    const png = $('save-format').value === 'png';
    let src = im.work;
    if (!png) {
      // JPEG has no transparency: flatten onto white.
      src = newCanvas(im.work.width, im.work.height);
      const g = ctx2d(src);
      g.fillStyle = '#ffffff';
      g.fillRect(0, 0, src.width, src.height);
      g.drawImage(im.work, 0, 0);
    }
    const data = src.toDataURL(png ? 'image/png' : 'image/jpeg', JPEG_QUALITY);
    $('save').disabled = true;
    try {
      const r = await run($('save-result'), 'editor=save', { session, index: im.info.index, base64: data });
      if (r && r.code === '0') {
        im.saved = r.filepath || '';
        window.editorState.savedPaths[im.info.index] = im.saved;
        im.thumb.querySelector('.saved-mark').textContent = '✓';
        showSaved(im);
      }
    } finally {
      sync();
    }
  }

  // ------------------------------------------------------------------ wiring

  $('crop-mode').addEventListener('click', () => setMode('crop'));
  $('crop-apply').addEventListener('click', applyCrop);
  $('crop-cancel').addEventListener('click', () => setMode('none'));
  for (const id of ['crop-x', 'crop-y', 'crop-w', 'crop-h']) {
    $(id).addEventListener('input', () => cropFromInputs(false));
    $(id).addEventListener('change', () => cropFromInputs(true));
  }
  $('rotate-left').addEventListener('click', () => { setMode('none'); commit(rotate90(cur().work, false)); });
  $('rotate-right').addEventListener('click', () => { setMode('none'); commit(rotate90(cur().work, true)); });
  for (const id of ['deskew', 'brightness', 'contrast']) {
    $(id).addEventListener('input', () => {
      if (mode !== 'none') setMode('none');
      showSliderValues();
      requestRender();
    });
  }
  $('deskew-apply').addEventListener('click', () => {
    const s = sliders();
    if (s.deskew === 0) return;
    commit(rotateFree(cur().work, s.deskew));
  });
  $('adjust-apply').addEventListener('click', () => {
    const s = sliders();
    if (s.brightness === 0 && s.contrast === 0) return;
    commit(applyLut(cur().work, adjustLut(s.brightness, s.contrast)));
  });
  $('tool-pen').addEventListener('click', () => setMode('pen'));
  $('tool-text').addEventListener('click', () => setMode('text'));
  $('undo').addEventListener('click', undo);
  $('reset').addEventListener('click', resetImage);
  $('save').addEventListener('click', save);

  document.addEventListener('keydown', (e) => {
    const t = e.target;
    const typing = t && (t.tagName === 'TEXTAREA' || (t.tagName === 'INPUT' && /^(text|number|search)$/i.test(t.type)));
    if ((e.ctrlKey || e.metaKey) && !e.shiftKey && !e.altKey && (e.key === 'z' || e.key === 'Z')) {
      if (typing) return;
      e.preventDefault();
      undo();
    } else if (e.key === 'Escape' && mode !== 'none') {
      setMode('none');
    } else if (e.key === 'Enter' && mode === 'crop' && !typing) {
      applyCrop();
    }
  });

  window.addEventListener('resize', requestRender);

  showSliderValues();
  loadSession();
})();
