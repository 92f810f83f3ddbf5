/* The device's demo and diagnostics page: every capability of the device, called the way an
 * integrator's page calls it, with the raw replies in the call log. Uses window.CameraApi. */
'use strict';

(function () {
  const api = window.CameraApi;
  const $ = (id) => document.getElementById(id);

  const CAMERAS = [
    { key: 'video0', camidx: '0', zh: '文档摄像头', en: 'Document camera' },
    { key: 'video1', camidx: '1', zh: '人像摄像头', en: 'Portrait camera' },
    { key: 'video2', camidx: '2', zh: '第二人像摄像头', en: 'Second portrait camera' },
    { key: 'videoIR1', camidx: '3', zh: '红外摄像头 1', en: 'Infrared camera 1' },
    { key: 'videoIR2', camidx: '4', zh: '红外摄像头 2', en: 'Infrared camera 2' },
  ];
  const AUTO_PREVIEWS = 3;
  const DIAG_PERIOD_MS = 3000;

  /* What was captured: {label, filepath?, base64?} newest last. */
  const captures = [];

  // ------------------------------------------------------------------ small helpers

  function el(tag, props, children) {
    const e = document.createElement(tag);
    if (props) {
      for (const [k, v] of Object.entries(props)) {
        if (v === undefined || v === null) continue;
        if (k === 'text') e.textContent = v;
        else if (k === 'className') e.className = v;
        else if (k === 'dataset') Object.assign(e.dataset, v);
        else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
        else e.setAttribute(k, v);
      }
    }
    for (const c of children || []) if (c !== null && c !== undefined) e.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
    return e;
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
  }

  /* MIME type of a base64 picture from its first bytes. */
  function imageMime(b64) {
    const s = String(b64 || '').replace(/^data:[^,]*,/, '');
    if (s.startsWith('/9j/')) return 'image/jpeg';
    if (s.startsWith('iVBOR')) return 'image/png';
    if (s.startsWith('Qk')) return 'image/bmp';
    if (s.startsWith('R0lG')) return 'image/gif';
    if (s.startsWith('UklG')) return 'image/webp';
    return 'image/jpeg';
  }

  function dataUrl(b64) {
    const s = String(b64 || '');
    return s.startsWith('data:') ? s : 'data:' + imageMime(s) + ';base64,' + s;
  }

  function bytesOfBase64(b64) {
    const s = String(b64 || '').replace(/^data:[^,]*,/, '').replace(/\s+/g, '');
    const pad = s.endsWith('==') ? 2 : s.endsWith('=') ? 1 : 0;
    return Math.max(0, Math.floor(s.length * 3 / 4) - pad);
  }

  function sizeText(n) {
    if (n >= 1048576) return (n / 1048576).toFixed(1) + ' MiB';
    if (n >= 1024) return (n / 1024).toFixed(1) + ' KiB';
    return n + ' B';
  }

  /* A picture with its size written under it once it has loaded. */
  function figure(src, caption, testid) {
    const img = el('img', { src, alt: caption || '', 'data-testid': testid });
    const cap = el('figcaption', { text: caption || '' });
    const size = el('span', { className: 'dims' });
    img.addEventListener('load', () => { size.textContent = ' ' + img.naturalWidth + '×' + img.naturalHeight; });
    cap.appendChild(size);
    return el('figure', null, [img, cap]);
  }

  function kvRows(table, obj) {
    clear(table);
    for (const [k, v] of Object.entries(obj)) {
      let text;
      if (v !== null && typeof v === 'object') text = JSON.stringify(api.shorten(v));
      else text = typeof v === 'string' ? api.shorten(v) : String(v);
      table.appendChild(el('tr', { dataset: { key: k } }, [el('th', { text: k }), el('td', { text })]));
    }
  }

  function gridRows(table, columns, rows) {
    clear(table);
    table.appendChild(el('tr', null, columns.map((c) => el('th', { text: c }))));
    for (const r of rows) {
      table.appendChild(el('tr', { dataset: r._data || {} }, columns.map((c) => el('td', { text: r[c] === undefined ? '' : String(r[c]) }))));
    }
  }

  function downloadLink(filepath, text) {
    return el('a', { href: api.storageUrl(filepath), target: '_blank', rel: 'noopener', text: text || filepath, 'data-filepath': filepath });
  }

  /* Runs one call for a result box: state "pending" -> "done" (with the reply's code) or
   * "error" (no reply). `render(reply)` fills the section's output. */
  async function run(box, endpoint, body, render, opts) {
    const summary = box.querySelector('.summary') || box;
    box.dataset.state = 'pending';
    box.dataset.code = '';
    box.classList.remove('error', 'ok', 'fail');
    box.dataset.seq = String((Number(box.dataset.seq) || 0) + 1);
    if (!(opts && opts.quiet)) summary.textContent = '… ' + endpoint;
    try {
      const { reply, status, ms } = await api.request(endpoint, body, opts);
      box.dataset.code = String(reply.code);
      box.dataset.http = String(status);
      box.classList.add(reply.code === '0' ? 'ok' : 'fail');
      summary.textContent = endpoint + ': code ' + reply.code + (reply.message ? ' — ' + reply.message : '') +
        (status !== 200 ? ' (HTTP ' + status + ')' : '') + ' · ' + ms + ' ms';
      if (render) {
        try {
          render(reply);
        } catch (e) {
          summary.textContent += ' · display error: ' + e.message;
        }
      }
      box.dataset.state = 'done';
      return reply;
    } catch (err) {
      box.dataset.code = 'ERR';
      box.classList.add('error');
      summary.textContent = endpoint + ': ' + api.describeError(err);
      box.dataset.state = 'error';
      return null;
    }
  }

  // ------------------------------------------------------------------ device address

  function setDeviceState(text, cls) {
    const s = $('device-state');
    s.textContent = text;
    s.className = 'badge ' + (cls || '');
  }

  async function connect() {
    api.setBase($('device-address').value);
    $('device-address').value = api.base;
    stopAllPreviews();
    setDeviceState('…', '');
    try {
      const r = await api.call('param=get', { type: 'app_version' });
      if (r.code === '0') setDeviceState('已连接 / connected · v' + r.app_version, 'ok');
      else setDeviceState('code ' + r.code + ': ' + (r.message || ''), 'fail');
      $('app-version').textContent = r.code === '0' ? 'app_version (param=get): ' + r.app_version : '';
    } catch (e) {
      setDeviceState(api.describeError(e), 'fail');
    }
    await refreshCameras();
    refreshUnavailable();
    refreshDiag(false);
  }

  // ------------------------------------------------------------------ cameras

  const previews = new Map(); // camidx -> {img, running}

  function streamUrl(camidx) {
    return api.url('video=stream&camidx=' + camidx + '&tid=' + Date.now());
  }

  function startPreview(camidx) {
    const p = previews.get(camidx);
    if (!p) return;
    p.img.dataset.error = '';
    p.img.src = streamUrl(camidx);
    p.running = true;
    p.toggle.textContent = '停止预览 / Stop preview';
    p.card.classList.add('streaming');
  }

  function stopPreview(camidx) {
    const p = previews.get(camidx);
    if (!p) return;
    p.img.removeAttribute('src');
    p.running = false;
    p.toggle.textContent = '开始预览 / Start preview';
    p.card.classList.remove('streaming');
  }

  function stopAllPreviews() {
    for (const camidx of previews.keys()) stopPreview(camidx);
  }

  async function loadResolutions(cam, select, box) {
    try {
      const [all, cur] = await Promise.all([
        api.call('param=get', { type: 'resolution', camidx: cam.camidx }, { quiet: true }),
        api.call('param=get', { type: 'current_resolution', camidx: cam.camidx }, { quiet: true }),
      ]);
      clear(select);
      if (all.code !== '0') {
        select.appendChild(el('option', { value: '', text: 'code ' + all.code }));
        return;
      }
      for (const r of String(all.resolution || '').split('|').filter(Boolean)) {
        select.appendChild(el('option', { value: r, text: r.replace('x', '×') }));
      }
      if (cur.code === '0') select.value = cur.resolution;
      select.dataset.current = cur.code === '0' ? cur.resolution : '';
    } catch (e) {
      box.querySelector('.summary').textContent = api.describeError(e);
    }
  }

  function cameraCard(cam, state) {
    const camidx = cam.camidx;
    const img = el('img', { id: 'stream-' + camidx, 'data-testid': 'stream-' + camidx, className: 'stream', alt: cam.en });
    const box = el('div', { id: 'cam-result-' + camidx, 'data-testid': 'cam-result-' + camidx, className: 'result', dataset: { state: 'idle' } },
      [el('span', { className: 'summary' })]);
    const select = el('select', { id: 'res-' + camidx, 'data-testid': 'res-' + camidx });
    const toggle = el('button', { type: 'button', id: 'preview-' + camidx, 'data-testid': 'preview-' + camidx });
    const rotation = el('span', { id: 'rotation-' + camidx, className: 'muted', text: '' });
    const card = el('div', { className: 'camera', id: 'camera-' + camidx, 'data-testid': 'camera-' + camidx, dataset: { camidx } }, [
      el('h3', null, [cam.zh + ' / ' + cam.en + ' ', el('span', { className: 'muted', text: '(camidx ' + camidx + ', ' + cam.key + ')' }),
        el('span', { className: 'badge', id: 'cam-state-' + camidx, 'data-testid': 'cam-state-' + camidx, text: state })]),
      el('div', { className: 'stream-box' }, [img]),
      el('div', { className: 'actions' }, [
        toggle,
        el('button', { type: 'button', id: 'open-' + camidx, 'data-testid': 'open-' + camidx, text: '打开 / Open',
          onclick: async () => { const r = await run(box, 'video=open', { camidx }); if (r && r.code === '0') startPreview(camidx); } }),
        el('button', { type: 'button', id: 'close-' + camidx, 'data-testid': 'close-' + camidx, text: '关闭 / Close',
          onclick: () => run(box, 'video=close', { camidx }) }),
        el('button', { type: 'button', id: 'rotl-' + camidx, 'data-testid': 'rotl-' + camidx, text: '⟲ 左转 / Left',
          onclick: () => run(box, 'video=rotate', { camidx, rotate: '90' }, (r) => { if (r.code === '0') rotation.textContent = '旋转 / rotation ' + r.data + '°'; }) }),
        el('button', { type: 'button', id: 'rotr-' + camidx, 'data-testid': 'rotr-' + camidx, text: '⟳ 右转 / Right',
          onclick: () => run(box, 'video=rotate', { camidx, rotate: '-90' }, (r) => { if (r.code === '0') rotation.textContent = '旋转 / rotation ' + r.data + '°'; }) }),
        rotation,
      ]),
      el('div', { className: 'actions' }, [
        el('label', null, ['分辨率 / Resolution ', select]),
        el('button', { type: 'button', id: 'res-apply-' + camidx, 'data-testid': 'res-apply-' + camidx, text: '设置 / Set',
          onclick: () => {
            const [w, h] = String(select.value).split('x');
            if (!w || !h) return;
            run(box, 'param=set', { camidx, resolution: { width: w, height: h } }, (r) => {
              if (r.code === '0') select.dataset.current = r.resolution;
            });
          } }),
      ]),
      box,
    ]);
    toggle.addEventListener('click', () => { if (previews.get(camidx).running) stopPreview(camidx); else startPreview(camidx); });
    img.addEventListener('error', () => {
      // An absent camera answers JSON instead of a stream; a closed one ends its stream.
      if (img.getAttribute('src')) img.dataset.error = '1';
    });
    previews.set(camidx, { img, card, toggle, running: false });
    toggle.textContent = '开始预览 / Start preview';
    loadResolutions(cam, select, box);
    return card;
  }

  async function refreshCameras() {
    const list = $('camera-list');
    const reply = await run($('cameras-result'), 'video=status', {}, null);
    stopAllPreviews();
    previews.clear();
    clear(list);
    if (!reply || reply.code !== '0') {
      $('cameras-summary').textContent = '';
      return;
    }
    $('cameras-summary').textContent = CAMERAS.map((c) => c.key + ': ' + (reply[c.key] || '?')).join(' · ');
    let started = 0;
    for (const cam of CAMERAS) {
      const state = reply[cam.key];
      if (!state || state === 'no') continue;
      list.appendChild(cameraCard(cam, state));
      if (started < AUTO_PREVIEWS) {
        startPreview(cam.camidx);
        started += 1;
      }
    }
    if (!list.firstChild) list.appendChild(el('p', { className: 'muted', text: '没有连接的摄像头 / no camera connected' }));
  }

  /* The state badges of the listed cameras (ok = connected, run = running), refreshed quietly. */
  async function refreshCameraStates() {
    if (!previews.size) return;
    try {
      const r = await api.call('video=status', {}, { quiet: true, timeout: 10000 });
      if (r.code !== '0') return;
      for (const cam of CAMERAS) {
        const badge = $('cam-state-' + cam.camidx);
        if (badge && r[cam.key]) {
          badge.textContent = r[cam.key];
          badge.className = 'badge' + (r[cam.key] === 'run' ? ' ok' : '');
        }
      }
    } catch (e) {
      // the next refresh tries again; the diagnostics box shows an unreachable device
    }
  }

  // ------------------------------------------------------------------ capture

  function val(id) {
    return String($(id).value || '').trim();
  }

  function flag(id) {
    return $(id).checked ? '1' : '0';
  }

  function grabBody() {
    const v10 = $('grab-version').value === '1.0';
    const body = { camidx: $('grab-camidx').value };
    const rotate = $('grab-rotate').value;
    const storage = {};
    for (const [id, key] of [['grab-xdpi', 'xdpi'], ['grab-ydpi', 'ydpi'], ['grab-max-file-size', 'max_file_size']]) {
      if (val(id) !== '') storage[key] = val(id);
    }
    let watermark;
    if ($('grab-watermark').checked) {
      watermark = {
        pos: $('grab-wm-pos').value,
        content: $('grab-wm-content').value,
        transparency: val('grab-wm-transparency') || '128',
        fontsize: val('grab-wm-fontsize') || '32',
        color: val('grab-wm-color') || 'red',
      };
      if (val('grab-wm-font')) watermark.font = val('grab-wm-font');
    }
    if (v10) {
      body.filepath = $('grab-return-base64').checked ? 'base64' : $('grab-filepath').value.trim();
      body.rotate = rotate;
      body.cutpage = $('grab-cutpage').value;
      body.ColorMode = $('grab-colormode').value;
      if (val('grab-width')) body.width = val('grab-width');
      if (val('grab-height')) body.height = val('grab-height');
      if (val('grab-jquality')) body.jquality = val('grab-jquality');
      Object.assign(body, storage);
    } else {
      body.make_uuid = flag('grab-make-uuid');
      const ipi = {
        cut_type: $('grab-cut-type').value,
        rotate,
        color_type: $('grab-color-type').value,
        document_type: $('grab-document-type').value,
        multi_object: flag('grab-multi-object'),
        split_page: flag('grab-split-page'),
        rect_correct: flag('grab-rect-correct'),
        reduce_shadow: flag('grab-reduce-shadow'),
        remove_black_edge: flag('grab-remove-black-edge'),
        correct_idcard_direction: flag('grab-idcard-direction'),
      };
      if (val('grab-fixed-width')) ipi.fixed_width = val('grab-fixed-width');
      if (val('grab-fixed-height')) ipi.fixed_height = val('grab-fixed-height');
      if (ipi.cut_type === '2') {
        ipi.custom_rect = {
          left: val('grab-rect-left'), top: val('grab-rect-top'), right: val('grab-rect-right'),
          bottom: val('grab-rect-bottom'), angle: val('grab-rect-angle') || '0',
        };
      }
      body.image_process_info = ipi;
      if (val('grab-jpg-quality')) storage.jpg_quality = val('grab-jpg-quality');
      if (Object.keys(storage).length) body.image_storage_info = storage;
    }
    if (watermark) body.watermark = watermark;
    return body;
  }

  function syncGrabForm() {
    const v10 = $('grab-version').value === '1.0';
    $('grab-v15').hidden = v10;
    $('grab-v10').hidden = !v10;
    $('grab-custom-rect').hidden = $('grab-cut-type').value !== '2';
    $('grab-filepath').disabled = $('grab-return-base64').checked;
  }

  function addCapture(item) {
    captures.push(item);
    renderSources();
  }

  function renderSources() {
    const box = $('doc-sources');
    clear(box);
    if (!captures.length) {
      box.appendChild(el('span', { className: 'muted', text: '尚无拍照 / no capture yet' }));
      return;
    }
    captures.forEach((c, i) => {
      const cb = el('input', { type: 'checkbox', dataset: { index: String(i) } });
      cb.checked = c.selected !== false;
      cb.addEventListener('change', () => { c.selected = cb.checked; });
      box.appendChild(el('label', { className: 'source' }, [cb, ' ' + (i + 1) + '. ' + c.label]));
    });
  }

  function sourceOf(c) {
    return c.filepath ? { filepath: c.filepath } : { base64: c.base64, image_type: 'jpg' };
  }

  function renderGrab(reply) {
    const out = $('grab-images');
    clear(out);
    if (reply.code !== '0') return;
    const when = new Date().toLocaleTimeString();
    if (Array.isArray(reply.images)) {
      for (const im of reply.images) {
        const parts = ['#' + im.index];
        if (im.filepath) parts.push(im.filepath);
        const fig = figure(dataUrl(im.base64), parts.join(' · '), 'grab-image');
        if (im.filepath) fig.appendChild(el('div', null, [downloadLink(im.filepath, '下载 / download ' + im.filepath)]));
        if (im.uuid) fig.appendChild(el('div', { className: 'muted', text: 'uuid ' + im.uuid }));
        fig.appendChild(el('div', { className: 'muted', text: sizeText(bytesOfBase64(im.base64)) }));
        out.appendChild(fig);
        addCapture({ label: (im.filepath || 'base64 #' + im.index) + ' (' + when + ')', filepath: im.filepath || '', base64: im.filepath ? '' : im.base64 });
      }
    } else if (reply.photoBase64) {
      // v1.0: uuid, filepath, photoBase64, thumbnail (only photoBase64 for filepath "base64")
      const fig = figure(dataUrl(reply.photoBase64), reply.filepath || 'base64', 'grab-image');
      if (reply.filepath) fig.appendChild(el('div', null, [downloadLink(reply.filepath, '下载 / download ' + reply.filepath)]));
      if (reply.uuid) fig.appendChild(el('div', { className: 'muted', text: 'uuid ' + reply.uuid }));
      fig.appendChild(el('div', { className: 'muted', text: sizeText(bytesOfBase64(reply.photoBase64)) }));
      out.appendChild(fig);
      if (reply.thumbnail) out.appendChild(figure(dataUrl(reply.thumbnail), '缩略图 / thumbnail', 'grab-thumbnail'));
      addCapture({ label: (reply.filepath || 'base64') + ' (' + when + ')', filepath: reply.filepath || '', base64: reply.filepath ? '' : reply.photoBase64 });
    }
  }

  // ------------------------------------------------------------------ documents

  function merge(kind) {
    const chosen = captures.filter((c) => c.selected !== false);
    const out = $('merge-output');
    clear(out);
    if (!chosen.length) {
      const box = $('merge-result');
      box.dataset.state = 'error';
      box.dataset.code = 'ERR';
      box.querySelector('.summary').textContent = '请先拍照 / capture an image first';
      return;
    }
    run($('merge-result'), 'imagepro=merge2' + kind, chosen.map(sourceOf), (r) => {
      if (r.code !== '0') return;
      out.appendChild(el('p', null, [
        kind.toUpperCase() + ' · ' + chosen.length + ' 页 / pages · ' + sizeText(bytesOfBase64(r.base64)) + ' · ',
        el('a', { id: 'merge-link', 'data-testid': 'merge-link', href: api.storageUrl(r.filepath), target: '_blank', rel: 'noopener', download: '', text: '下载 / download ' + r.filepath }),
      ]));
    });
  }

  // ------------------------------------------------------------------ barcodes

  function readBarcode() {
    const body = {};
    if ($('barcode-source').value === 'last') {
      const last = captures[captures.length - 1];
      if (!last) {
        const box = $('barcode-result');
        box.dataset.state = 'error';
        box.dataset.code = 'ERR';
        box.querySelector('.summary').textContent = '请先拍照，或选择实时画面 / capture first, or choose the live camera';
        return;
      }
      body.source_image = sourceOf(last);
    }
    body.cut_type = $('barcode-cut').checked ? '1' : '0';
    if ($('barcode-binary').checked) body.binary = '1';
    const roi = {};
    for (const k of ['top', 'left', 'bottom', 'right']) {
      const v = val('barcode-roi-' + k);
      if (v !== '') roi[k] = v;
    }
    if (Object.keys(roi).length) body.roi = roi;
    const out = $('barcode-output');
    clear(out);
    run($('barcode-result'), 'imagepro=barcode', body, (r) => {
      if (r.code !== '0') return;
      out.appendChild(el('p', { text: '找到 / found: ' + r.count }));
      const t = el('table', { className: 'grid', 'data-testid': 'barcode-table' });
      gridRows(t, ['type', 'code'], (r.barcode || []).map((b) => ({ type: b.type, code: b.code })));
      out.appendChild(t);
    });
  }

  // ------------------------------------------------------------------ cards

  const CARD_INFO_KEYS = ['IDCardInfo', 'SocialCardInfo', 'ICCardInfo', 'MagCardInfo'];

  function readCard(endpoint) {
    const photos = $('card-photos');
    const table = $('card-fields');
    clear(photos);
    clear(table);
    run($('card-result'), endpoint, {}, (r) => {
      if (r.code !== '0') return;
      const fields = {};
      for (const [k, v] of Object.entries(r)) {
        if (k === 'code' || k === 'message') continue;
        if (CARD_INFO_KEYS.includes(k) && v && typeof v === 'object') Object.assign(fields, v);
        else fields[k] = v;
      }
      kvRows(table, fields);
      const info = r.IDCardInfo || {};
      for (const [key, label] of [['photoBase64', '照片 / photo'], ['photoBase64_Z', '正面 / front'], ['photoBase64_F', '背面 / back']]) {
        const b64 = info[key] || r[key];
        if (b64) photos.appendChild(figure(dataUrl(b64), label + ' (' + key + ')', 'card-' + key));
      }
    });
  }

  // ------------------------------------------------------------------ editor

  function startEditor() {
    const box = $('editor-result');
    const link = $('editor-link');
    link.hidden = true;
    const chosen = $('editor-all').checked ? captures.filter((c) => c.selected !== false) : captures.slice(-1);
    if (!chosen.length) {
      box.dataset.state = 'error';
      box.dataset.code = 'ERR';
      box.querySelector('.summary').textContent = '请先拍照 / capture an image first';
      return;
    }
    // Opened now, while the click still counts as the user's: a window opened after the reply
    // could be taken for a pop-up and blocked.
    let win = null;
    try {
      win = window.open('', '_blank');
    } catch (e) {
      win = null;
    }
    run(box, 'imagepro=start_editor', { sources_images: chosen.map(sourceOf) }, (r) => {
      if (r.code !== '0' || !r.editor_url) {
        if (win) win.close();
        return;
      }
      const url = new URL(r.editor_url, api.base + '/');
      if (url.origin !== location.origin && !url.searchParams.has('device')) url.searchParams.set('device', api.base);
      link.href = url.href;
      link.hidden = false;
      if (win) win.location.href = url.href;
    }).then((r) => { if (!r && win) win.close(); });
  }

  function editorImages() {
    const out = $('editor-list');
    clear(out);
    run($('editor-result'), 'imagepro=get_editor_images', {}, (r) => {
      if (r.code !== '0') return;
      const images = r.images || [];
      if (!images.length) out.appendChild(el('p', { className: 'muted', text: '尚无保存的编辑结果 / nothing saved yet' }));
      for (const im of images) {
        if (im.filepath) {
          const fig = figure(api.storageUrl(im.filepath), im.filepath, 'editor-image');
          fig.appendChild(el('div', null, [downloadLink(im.filepath, '下载 / download')]));
          out.appendChild(fig);
        } else if (im.base64) {
          out.appendChild(figure(dataUrl(im.base64), '#' + im.index, 'editor-image'));
        }
      }
    });
  }

  // ------------------------------------------------------------------ signing, recording

  function unavailableText(r) {
    if (r.code === '9') return '尚不可用 / not available yet';
    if (r.code === '0') return '可用 / available';
    return '';
  }

  const UNAVAILABLE = {
    sign: ['sign=status', {}],
    record: ['video=record', { action: 'status' }],
  };

  function checkUnavailable(id) {
    const [endpoint, body] = UNAVAILABLE[id];
    const box = $(id + '-result');
    return run(box, endpoint, body, (r) => {
      const note = unavailableText(r);
      const p = box.querySelector('.note') || box.appendChild(el('div', { className: 'note', 'data-testid': id + '-note' }));
      p.textContent = note + (r.code === '0' ? ' · ' + JSON.stringify(api.shorten(r)) : '');
    });
  }

  function refreshUnavailable() {
    checkUnavailable('sign');
    checkUnavailable('record');
  }

  // ------------------------------------------------------------------ diagnostics

  let diagBusy = false;

  function uptimeText(s) {
    s = Number(s) || 0;
    const d = Math.floor(s / 86400);
    const h = Math.floor((s % 86400) / 3600);
    const m = Math.floor((s % 3600) / 60);
    return (d ? d + 'd ' : '') + String(h).padStart(2, '0') + ':' + String(m).padStart(2, '0') + ':' + String(s % 60).padStart(2, '0');
  }

  function renderDiag(r) {
    if (r.code !== '0') {
      clear($('diag-info'));
      clear($('diag-classes'));
      clear($('diag-cameras'));
      return;
    }
    kvRows($('diag-info'), {
      '固件版本 / firmware version': r.version,
      '运行时间 / uptime': uptimeText(r.uptime_seconds),
      '序列号 / serial number': r.serial_number || '—',
    });
    gridRows($('diag-classes'), ['class', 'backend', 'state', 'detail'],
      (r.classes || []).map((c) => ({ ...c, _data: { state: String(c.state || '') } })));
    gridRows($('diag-cameras'), ['camidx', 'name', 'state'], r.cameras || []);
    const u = r.update || {};
    const box = $('diag-update');
    clear(box);
    const bar = el('progress', { max: '100', value: String(Number(u.progress) || 0) });
    box.appendChild(el('span', { 'data-testid': 'update-state', text: (u.state || '—') + ' ' }));
    box.appendChild(bar);
    box.appendChild(el('span', { text: ' ' + (Number(u.progress) || 0) + '%' }));
  }

  function renderLog(r) {
    const out = $('diag-log-lines');
    if (r.code !== '0') {
      clear(out);
      return;
    }
    const atBottom = out.scrollTop + out.clientHeight >= out.scrollHeight - 8;
    clear(out);
    for (const l of r.lines || []) {
      out.appendChild(el('div', { className: 'log-line level-' + String(l.level || '').toLowerCase() }, [
        el('span', { className: 'time', text: l.time + ' ' }),
        el('span', { className: 'level', text: String(l.level || '').padEnd(5) + ' ' }),
        el('span', { className: 'target', text: l.target + ' ' }),
        el('span', { className: 'message', text: l.message }),
      ]));
    }
    if (atBottom) out.scrollTop = out.scrollHeight;
  }

  async function refreshDiag(quiet) {
    if (diagBusy) return;
    diagBusy = true;
    try {
      await Promise.all([
        run($('diag-status'), 'diag=status', {}, renderDiag, { quiet, timeout: 15000 }),
        run($('diag-log'), 'diag=log', { lines: 100 }, renderLog, { quiet, timeout: 15000 }),
      ]);
    } finally {
      diagBusy = false;
    }
  }

  // ------------------------------------------------------------------ wiring

  function init() {
    api.attachLog($('log'));
    $('device-address').value = api.base;
    $('device-form').addEventListener('submit', (e) => { e.preventDefault(); connect(); });
    $('cameras-refresh').addEventListener('click', refreshCameras);

    for (const id of ['grab-version', 'grab-cut-type', 'grab-return-base64']) $(id).addEventListener('change', syncGrabForm);
    syncGrabForm();
    $('grab-form').addEventListener('submit', (e) => {
      e.preventDefault();
      clear($('grab-images'));
      run($('grab-result'), 'video=grabimage', grabBody(), renderGrab);
    });
    $('grab-show-body').addEventListener('click', () => {
      const pre = $('grab-body');
      pre.textContent = JSON.stringify(grabBody(), null, 2);
      pre.hidden = !pre.hidden;
    });

    $('merge-pdf').addEventListener('click', () => merge('pdf'));
    $('merge-tif').addEventListener('click', () => merge('tif'));
    $('merge-ofd').addEventListener('click', () => merge('ofd'));
    $('doc-clear').addEventListener('click', () => { captures.length = 0; renderSources(); });

    $('barcode-read').addEventListener('click', readBarcode);

    for (const b of document.querySelectorAll('#cards button[data-endpoint]')) {
      b.addEventListener('click', () => readCard(b.dataset.endpoint));
    }

    $('editor-start').addEventListener('click', startEditor);
    $('editor-images').addEventListener('click', editorImages);

    $('sign-status').addEventListener('click', () => checkUnavailable('sign'));
    $('sign-start').addEventListener('click', () => run($('sign-result'), 'sign=start', {
      tip_message: { content: '请在此签名 / Please sign here', fontsize: '28', color: '#1f3a60' },
      remark: 'demo',
    }));
    $('sign-get').addEventListener('click', () => run($('sign-result'), 'sign=get', {}, (r) => {
      const out = $('sign-image');
      out.textContent = '';
      if (r.code === '0' && r.image) out.appendChild(figure('data:image/png;base64,' + r.image, 'remark: ' + r.remark, 'sign-png'));
    }));
    $('sign-stop').addEventListener('click', () => run($('sign-result'), 'sign=stop', {}));
    $('sign-preview').addEventListener('click', () => {
      const img = $('sign-screen');
      if (img.hidden) {
        img.src = api.url('sign=stream&tid=' + Date.now());
        img.hidden = false;
      } else {
        img.removeAttribute('src');
        img.hidden = true;
      }
    });
    $('record-status').addEventListener('click', () => checkUnavailable('record'));

    $('diag-refresh').addEventListener('click', () => refreshDiag(false));
    setInterval(() => {
      if ($('diag-auto').checked && !document.hidden) {
        refreshDiag(true);
        refreshCameraStates();
      }
    }, DIAG_PERIOD_MS);

    $('log-clear').addEventListener('click', () => clear($('log')));

    connect();
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
})();
