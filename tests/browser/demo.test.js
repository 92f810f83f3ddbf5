// The demo and diagnostics page served by the device at `/`: it loads with the device's own
// address, every camera's MJPEG preview renders and keeps delivering frames, and every button's
// call succeeds against the --sim daemon (code "0"): open/close/rotate/resolution, capture with
// options, PDF/TIFF/OFD, barcodes, the five card readers, diagnostics status and log, the image
// editor's two calls. Signing and recording show the device's honest "9". Screenshot:
// artifacts/demo.png.
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const S = require('./support');

const g = S.gate((name) => page && page.screenshot({ path: S.artifact('failed-demo-' + S.slug(name) + '.png') }));
let dev;
let context;
let page;
let problems;

before(async () => {
  dev = await S.device();
  context = await S.launchBrowser();
  page = await context.newPage();
  problems = S.watchPage(page);
});

after(async () => {
  if (context) await context.close();
  if (dev) await dev.stop();
});

/* A small signature of what an <img> shows now (drawn at 32x24, RGB bytes), or null. */
function signature(camidx) {
  return page.evaluate((i) => {
    const img = document.getElementById('stream-' + i);
    if (!img || !img.naturalWidth) return null;
    const c = document.createElement('canvas');
    c.width = 32;
    c.height = 24;
    const g = c.getContext('2d', { willReadFrequently: true });
    g.drawImage(img, 0, 0, 32, 24);
    const d = g.getImageData(0, 0, 32, 24).data;
    let s = '';
    for (let k = 0; k < d.length; k += 4) s += String.fromCharCode(d[k], d[k + 1], d[k + 2]);
    return { w: img.naturalWidth, h: img.naturalHeight, sig: s };
  }, camidx);
}

async function waitFrame(camidx, predicate, what, timeoutMs) {
  const deadline = Date.now() + (timeoutMs || 15000);
  let last = null;
  while (Date.now() < deadline) {
    last = await signature(camidx);
    if (last && predicate(last)) return last;
    await S.sleep(100);
  }
  throw new Error(`camera ${camidx}: ${what} not seen; last frame ${last ? last.w + 'x' + last.h : 'none'}`);
}

async function code(id) {
  return (await S.resultOf(page, id)).code;
}

test('the demo page loads at / with the device address', g.critical('the demo page did not load', async () => {
  const resp = await page.goto(dev.base + '/');
  assert.equal(resp.status(), 200);
  assert.match(resp.headers()['content-type'], /text\/html/);
  assert.match(await page.title(), /CameraService/);
  assert.equal(await page.inputValue('#device-address'), dev.base);
  await page.waitForSelector('#device-state.ok', { timeout: 15000 });
  for (const name of ['style.css', 'api.js', 'demo.js', 'editor.html', 'editor.js', 'index.html']) {
    const r = await page.request.get(dev.base + '/ui/' + name);
    assert.equal(r.status(), 200, '/ui/' + name);
  }
}));

test('every camera previews and keeps delivering frames', g.guard(async () => {
  const listed = await S.resultOf(page, 'cameras-result');
  assert.equal(listed.code, '0', listed.text);
  const status = await S.api(dev.base, 'video=status');
  const expected = [['video0', '0'], ['video1', '1'], ['video2', '2'], ['videoIR1', '3'], ['videoIR2', '4']]
    .filter(([k]) => status[k] && status[k] !== 'no').map(([, i]) => i);
  assert.ok(expected.length >= 2, 'the simulated device has a document and a portrait camera: ' + S.short(status));
  const shown = await page.$$eval('#camera-list .camera', (els) => els.map((e) => e.dataset.camidx));
  assert.deepEqual(shown, expected);
  for (const camidx of expected) {
    const first = await waitFrame(camidx, () => true, 'a first frame');
    assert.ok(first.w > 0 && first.h > 0);
    // Frames keep coming: a moving picture changes by itself; a still one (the simulated
    // document) changes when the preview is turned, which the stream shows at once.
    let moved = false;
    try {
      await waitFrame(camidx, (f) => f.sig !== first.sig, 'a changed frame', 2500);
      moved = true;
    } catch (e) {
      moved = false;
    }
    await page.click('#rotl-' + camidx);
    assert.equal(await code('cam-result-' + camidx), '0');
    const turned = await waitFrame(camidx, (f) => f.w === first.h && f.h === first.w && f.sig !== first.sig, 'the turned preview');
    await page.click('#rotr-' + camidx);
    assert.equal(await code('cam-result-' + camidx), '0');
    await waitFrame(camidx, (f) => f.w === first.w && f.h === first.h && f.sig !== turned.sig, 'the preview turned back');
    console.log(`camera ${camidx}: ${first.w}x${first.h}, ${moved ? 'moving picture' : 'still picture'}, turned and back`);
  }
}));

test('resolution, open and close', g.guard(async () => {
  const options = await page.$$eval('#res-0 option', (os) => os.map((o) => o.value));
  assert.ok(options.includes('1280x960'), options.join('|'));
  await page.selectOption('#res-0', '1280x960');
  assert.equal((await S.clickFor(page, '#res-apply-0', 'cam-result-0')).code, '0');
  const cur = await S.api(dev.base, 'param=get', { type: 'current_resolution', camidx: '0' });
  assert.equal(cur.resolution, '1280x960');

  assert.equal((await S.clickFor(page, '#open-1', 'cam-result-1')).code, '0');
  assert.equal((await S.clickFor(page, '#close-1', 'cam-result-1')).code, '0');
  // Opening again restarts the preview.
  assert.equal((await S.clickFor(page, '#open-1', 'cam-result-1')).code, '0');
  const f = await waitFrame('1', () => true, 'a frame after reopening');
  assert.ok(f.w > 0);
  assert.equal((await S.clickFor(page, '#close-1', 'cam-result-1')).code, '0');
  await page.click('#preview-1'); // stop, and start again: the stream opens the camera itself
  await page.click('#preview-1');
  await waitFrame('1', () => true, 'a frame after the preview restarted');
}));

test('capture with options (v1.5 and v1.0)', g.guard(async () => {
  // v1.5 defaults: automatic crop, make_uuid
  let r = await S.clickFor(page, '#grab', 'grab-result');
  assert.equal(r.code, '0', r.text);
  await page.waitForFunction(() => [...document.querySelectorAll('[data-testid="grab-image"]')].some((i) => i.naturalWidth > 0));
  const link = await page.getAttribute('#grab-images a[data-filepath]', 'data-filepath');
  assert.match(link, /^\/images\/.+\.jpg$/);

  // v1.5 with a custom rectangle, grey, rotation, quality, DPI, size cap and a watermark
  await page.selectOption('#grab-cut-type', '2');
  await page.fill('#grab-rect-left', '10%');
  await page.fill('#grab-rect-top', '10%');
  await page.fill('#grab-rect-right', '60%');
  await page.fill('#grab-rect-bottom', '70%');
  await page.selectOption('#grab-color-type', '1');
  await page.selectOption('#grab-rotate', '90');
  await page.fill('#grab-jpg-quality', '70');
  await page.fill('#grab-xdpi', '300');
  await page.fill('#grab-ydpi', '300');
  await page.check('#grab-watermark');
  await page.fill('#grab-wm-content', '演示 demo');
  r = await S.clickFor(page, '#grab', 'grab-result');
  assert.equal(r.code, '0', r.text);
  const dims = await page.$eval('[data-testid="grab-image"]', (i) => new Promise((res) => {
    if (i.naturalWidth) res([i.naturalWidth, i.naturalHeight]);
    else i.addEventListener('load', () => res([i.naturalWidth, i.naturalHeight]));
  }));
  // 50 % x 60 % of 1280x960, turned: 576 wide, 640 high
  assert.ok(Math.abs(dims[0] - 576) <= 3 && Math.abs(dims[1] - 640) <= 3, 'custom rect turned: ' + dims);

  // v1.0, base64 only
  await page.selectOption('#grab-version', '1.0');
  await page.check('#grab-return-base64');
  await page.uncheck('#grab-watermark');
  await page.selectOption('#grab-rotate', '0');
  r = await S.clickFor(page, '#grab', 'grab-result');
  assert.equal(r.code, '0', r.text);
  await page.waitForFunction(() => [...document.querySelectorAll('[data-testid="grab-image"]')].some((i) => i.naturalWidth > 0));

  // back to v1.5 with automatic crop, so the last capture is a stored page
  await page.selectOption('#grab-version', '1.5');
  await page.selectOption('#grab-cut-type', '1');
  await page.selectOption('#grab-color-type', '0');
  await page.fill('#grab-jpg-quality', '');
  r = await S.clickFor(page, '#grab', 'grab-result');
  assert.equal(r.code, '0', r.text);
  const n = await page.$$eval('#doc-sources input[type=checkbox]', (l) => l.length);
  assert.equal(n, 4);
}));

test('documents: PDF, TIFF and OFD of the captures', g.guard(async () => {
  const magic = { pdf: ['%PDF'], tif: ['II*\u0000', 'MM\u0000*'], ofd: ['PK\u0003\u0004'] };
  for (const kind of ['pdf', 'tif', 'ofd']) {
    const r = await S.clickFor(page, '#merge-' + kind, 'merge-result');
    assert.equal(r.code, '0', kind + ': ' + r.text);
    const href = await page.getAttribute('#merge-link', 'href');
    assert.ok(href.startsWith(dev.base + '/storage/images/') && href.endsWith('.' + kind), href);
    const head = await page.evaluate(async (u) => {
      const b = new Uint8Array(await (await fetch(u)).arrayBuffer());
      return String.fromCharCode(...b.slice(0, 4));
    }, href);
    assert.ok(magic[kind].includes(head), kind + ' starts with ' + JSON.stringify(head));
  }
}));

test('barcodes on the last capture', g.guard(async () => {
  const r = await S.clickFor(page, '#barcode-read', 'barcode-result');
  assert.equal(r.code, '0', r.text);
  await page.waitForSelector('[data-testid="barcode-table"]');
}));

test('the five card readers', g.guard(async () => {
  const expect = {
    '#card-idcard': 'name', '#card-social': 'SocialSecurityNumber', '#card-iccard': 'CardNumber',
    '#card-magcard': 'Track2', '#card-samid': 'samID',
  };
  for (const [button, key] of Object.entries(expect)) {
    const r = await S.clickFor(page, button, 'card-result');
    assert.equal(r.code, '0', button + ': ' + r.text);
    const v = await page.$eval(`#card-fields tr[data-key="${key}"] td`, (td) => td.textContent);
    assert.ok(v.length > 0, button + ' shows ' + key);
  }
  // The ID card's pictures are shown when the reply has them.
  const id = await S.api(dev.base, 'card=idcard');
  const info = id.IDCardInfo || {};
  await S.clickFor(page, '#card-idcard', 'card-result');
  for (const key of ['photoBase64', 'photoBase64_Z', 'photoBase64_F']) {
    const shown = await page.$(`[data-testid="card-${key}"]`);
    if (info[key]) {
      assert.ok(shown, key + ' is in the reply but not shown');
      await page.waitForFunction((k) => document.querySelector(`[data-testid="card-${k}"]`).naturalWidth > 0, key);
    } else {
      assert.equal(shown, null, key + ' is empty but shown');
    }
  }
  console.log('ID card pictures in the reply: ' + ['photoBase64', 'photoBase64_Z', 'photoBase64_F'].filter((k) => info[k]).join(', '));
}));

test('signing on the virtual screen works; recording shows the device answer: not available yet ("9")', g.guard(async () => {
  const st = await S.clickFor(page, '#sign-status', 'sign-result');
  assert.equal(st.code, '0', 'sign=status: ' + st.text);
  const started = await S.clickFor(page, '#sign-start', 'sign-result');
  assert.equal(started.code, '0', 'sign=start: ' + started.text);
  // The screen preview shows the window.
  await page.click('#sign-preview');
  await page.waitForFunction(() => {
    const img = document.getElementById('sign-screen');
    return img && img.complete && img.naturalWidth > 0;
  }, null, { timeout: 10000 });
  // Nothing signed yet: the vendor's code "1".
  const got = await S.clickFor(page, '#sign-get', 'sign-result');
  assert.equal(got.code, '1', 'sign=get before signing: ' + got.text);
  const stopped = await S.clickFor(page, '#sign-stop', 'sign-result');
  assert.equal(stopped.code, '0', 'sign=stop: ' + stopped.text);
  await page.click('#sign-preview');
  const r = await S.clickFor(page, '#record-status', 'record-result');
  assert.equal(r.code, '9', 'record: ' + r.text);
  assert.match(r.text, /not available yet/);
}));

test('diagnostics: status of every class, log lines, version and update state', g.guard(async () => {
  const [st, log] = await Promise.all([
    (async () => { await page.click('#diag-refresh'); return S.resultOf(page, 'diag-status'); })(),
    S.resultOf(page, 'diag-log'),
  ]);
  assert.equal(st.code, '0', 'diag=status: ' + st.text);
  assert.equal(log.code, '0', 'diag=log: ' + log.text);
  const rows = await page.$$eval('#diag-classes tr', (trs) => trs.length - 1);
  assert.ok(rows >= 4, 'hardware classes shown: ' + rows);
  const version = await page.$eval('#diag-info', (t) => t.textContent);
  assert.match(version, /\d+\.\d+/);
  await page.waitForSelector('[data-testid="update-state"]');
  const lines = await page.$$eval('#diag-log-lines .log-line', (l) => l.length);
  assert.ok(lines > 0, 'log lines shown');
  // it refreshes by itself
  const seq = await page.$eval('#diag-status', (e) => Number(e.dataset.seq));
  await page.waitForFunction((s) => Number(document.getElementById('diag-status').dataset.seq) > s, seq, { timeout: 10000 });
}));

test('image editor: start_editor opens the editor on the last capture; get_editor_images', g.guard(async () => {
  const [popup] = await Promise.all([
    context.waitForEvent('page', { timeout: 30000 }),
    page.click('#editor-start'),
  ]);
  const r = await S.resultOf(page, 'editor-result');
  assert.equal(r.code, '0', r.text);
  await popup.waitForURL(/\/ui\/editor\.html\?session=/, { timeout: 15000 });
  assert.ok(popup.url().startsWith(dev.base + '/ui/editor.html?session='), popup.url());
  await popup.waitForFunction(() => window.editorState && window.editorState.loaded, null, { timeout: 30000 });
  const st = await popup.evaluate(() => window.editorState);
  assert.ok(st.width > 0 && st.height > 0, JSON.stringify(st));
  await popup.close();
  const g = await S.clickFor(page, '#editor-images', 'editor-result');
  assert.equal(g.code, '0', g.text);
}));

test('every call is in the call log, base64 shortened; no page errors; screenshot', g.guard(async () => {
  const entries = await page.$$eval('#log .log-entry', (l) => l.map((e) => ({ ep: e.dataset.endpoint, text: e.textContent })));
  const endpoints = new Set(entries.map((e) => e.ep));
  for (const ep of ['video=status', 'video=grabimage', 'imagepro=merge2pdf', 'imagepro=barcode', 'card=idcard', 'sign=status',
    'video=record', 'diag=status', 'imagepro=start_editor', 'imagepro=get_editor_images']) {
    assert.ok(endpoints.has(ep), ep + ' is not in the call log');
  }
  for (const e of entries) assert.ok(!/[A-Za-z0-9+/]{400}/.test(e.text), e.ep + ': a long base64 text in the log');
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: S.artifact('demo.png'), fullPage: true });
  assert.deepEqual(problems, []);
}));
