// The image editor: a capture and a picture of known colours are stored through the API, an
// editing session is started on both (imagepro=start_editor) and its editor_url opened. The
// known picture is cropped (handles dragged with the mouse, then the exact rectangle typed in),
// turned 90° clockwise, a pen stroke drawn and undone with Ctrl+Z, and saved as PNG; the
// capture is turned left and saved as JPEG. imagepro=get_editor_images lists both saved files,
// and the downloaded PNG is checked pixel by pixel against the same crop and turn done here.
// Screenshots: artifacts/editor.png (crop frame) and artifacts/editor-saved.png.
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const S = require('./support');

// The known picture: four quadrants and a 1-pixel white grid line every 50 pixels.
const W = 400;
const H = 300;
function known(x, y) {
  if (x % 50 === 0 || y % 50 === 0) return [255, 255, 255];
  if (x < 200 && y < 150) return [220, 30, 30];
  if (x >= 200 && y < 150) return [30, 200, 60];
  if (x < 200) return [40, 60, 230];
  return [240, 210, 20];
}
const CROP = { x: 101, y: 63, w: 240, h: 170 };
const KNOWN_PATH = '/browser-test/known.png';
const GRAB_PATH = 'D:/browser-test/grab.jpg';

const g = S.gate((name) => page && page.screenshot({ path: S.artifact('failed-editor-' + S.slug(name) + '.png') }));
let dev;
let context;
let page;
let problems;
let session;

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

const state = () => page.evaluate(() => ({ ...window.editorState }));

async function waitState(pred, what, timeoutMs) {
  const deadline = Date.now() + (timeoutMs || 15000);
  let st;
  while (Date.now() < deadline) {
    st = await state();
    if (pred(st)) return st;
    await S.sleep(50);
  }
  throw new Error(what + ' not reached; editorState ' + JSON.stringify(st));
}

/* The view position (page coordinates) of an image point. */
async function viewPoint(x, y) {
  const box = await page.locator('#canvas').boundingBox();
  const st = await state();
  return { x: box.x + (x * box.width) / st.width, y: box.y + (y * box.height) / st.height };
}

async function dragFrom(p, dx, dy) {
  await page.mouse.move(p.x, p.y);
  await page.mouse.down();
  await page.mouse.move(p.x + dx / 2, p.y + dy / 2, { steps: 4 });
  await page.mouse.move(p.x + dx, p.y + dy, { steps: 4 });
  await page.mouse.up();
}

test('sources stored and an editing session started through the API', g.critical('no editing session', async () => {
  const png = S.makePng(W, H, known);
  let r = await S.api(dev.base, 'imagepro=storage_image', {
    source_image: { base64: png.toString('base64'), image_type: 'png' }, output_image: { filepath: KNOWN_PATH },
  });
  assert.equal(r.code, '0', S.short(r));
  r = await S.api(dev.base, 'video=grabimage', { camidx: '0', filepath: GRAB_PATH, cutpage: '0' });
  assert.equal(r.code, '0', S.short(r));
  r = await S.api(dev.base, 'imagepro=start_editor', { sources_images: [{ filepath: GRAB_PATH }, { filepath: KNOWN_PATH }] });
  assert.equal(r.code, '0', S.short(r));
  assert.match(r.editor_url, /\/ui\/editor\.html\?session=/);
  session = r;
}));

test('the editor opens the session at its editor_url', g.critical('the editor did not open', async () => {
  assert.ok(session, 'no session');
  const url = new URL(session.editor_url, dev.base + '/').href;
  const resp = await page.goto(url);
  assert.equal(resp.status(), 200);
  const st = await waitState((s) => s.ready && s.loaded, 'the first image loaded', 30000);
  assert.equal(await page.locator('[data-testid^="thumb-"]').count(), 2);
  assert.ok(st.width > 0 && st.height > 0 && st.historyLength === 0, JSON.stringify(st));
  await page.click('[data-testid="thumb-1"]');
  const k = await waitState((s) => s.index === 1 && s.loaded && s.width === W && s.height === H, 'the known picture');
  assert.equal(k.historyLength, 0);
  assert.equal(await page.inputValue('#save-format'), 'png', 'a PNG source is saved as PNG by default');
}));

test('crop with the handles, then exactly through the fields; apply', g.critical('the crop failed', async () => {
  await page.click('#crop-mode');
  let st = await waitState((s) => s.mode === 'crop' && s.crop, 'crop mode');
  const c0 = st.crop;
  // bottom-right corner handle: 60 image pixels in, 40 up
  const box = await page.locator('#canvas').boundingBox();
  const scale = box.width / st.width;
  await dragFrom(await viewPoint(c0.x + c0.w, c0.y + c0.h), -60 * scale, -40 * scale);
  st = await state();
  assert.ok(Math.abs(st.crop.w - (c0.w - 60)) <= 2 && Math.abs(st.crop.h - (c0.h - 40)) <= 2, 'corner drag: ' + JSON.stringify([c0, st.crop]));
  assert.equal(st.crop.x, c0.x);
  // left edge handle: 30 to the right
  const c1 = st.crop;
  await dragFrom(await viewPoint(c1.x, c1.y + c1.h / 2), 30 * scale, 0);
  st = await state();
  assert.ok(Math.abs(st.crop.x - (c1.x + 30)) <= 2 && Math.abs(st.crop.w - (c1.w - 30)) <= 2, 'edge drag: ' + JSON.stringify([c1, st.crop]));
  assert.equal(st.crop.y, c1.y);
  assert.equal(st.crop.h, c1.h);
  // the fields follow the frame
  assert.equal(Number(await page.inputValue('#crop-x')), st.crop.x);
  // move the frame by dragging inside it
  const c2 = st.crop;
  await dragFrom(await viewPoint(c2.x + c2.w / 2, c2.y + c2.h / 2), -10 * scale, 10 * scale);
  st = await state();
  assert.ok(Math.abs(st.crop.x - (c2.x - 10)) <= 2 && Math.abs(st.crop.y - (c2.y + 10)) <= 2 && st.crop.w === c2.w, 'move: ' + JSON.stringify([c2, st.crop]));

  // the exact rectangle, typed in
  for (const [id, v] of [['crop-x', CROP.x], ['crop-y', CROP.y], ['crop-w', CROP.w], ['crop-h', CROP.h]]) {
    await page.fill('#' + id, String(v));
  }
  st = await state();
  assert.deepEqual(st.crop, CROP);
  await page.screenshot({ path: S.artifact('editor.png') });
  await page.click('#crop-apply');
  st = await waitState((s) => s.mode === 'none' && s.width === CROP.w && s.height === CROP.h, 'the crop applied');
  assert.equal(st.historyLength, 1);
}));

test('turn 90° clockwise; a pen stroke undone with Ctrl+Z; adjustments undone', g.critical('the turn failed', async () => {
  await page.click('#rotate-right');
  let st = await waitState((s) => s.width === CROP.h && s.height === CROP.w, 'the turn');
  assert.equal(st.historyLength, 2);

  await page.click('#tool-pen');
  await waitState((s) => s.mode === 'pen', 'pen mode');
  const p = await viewPoint(20, 20);
  await dragFrom(p, 60, 80);
  st = await waitState((s) => s.historyLength === 3, 'a pen stroke');
  await page.click('#tool-pen'); // off again
  await page.locator('#canvas').focus().catch(() => {});
  await page.keyboard.press('Control+z');
  st = await waitState((s) => s.historyLength === 2, 'Ctrl+Z');
  assert.equal(st.width, CROP.h);

  // brightness applied, then undone by the button
  await page.locator('#brightness').fill('40');
  await page.click('#adjust-apply');
  await waitState((s) => s.historyLength === 3, 'brightness applied');
  await page.click('#undo');
  st = await waitState((s) => s.historyLength === 2, 'undo');
  assert.equal(await page.inputValue('#brightness'), '0');
}));

test('save as PNG; get_editor_images lists it; the file has the cropped, turned pixels', g.guard(async () => {
  const r = await S.clickFor(page, '#save', 'save-result');
  assert.equal(r.code, '0', r.text);
  const st = await state();
  assert.ok(st.saved && /\.png$/.test(st.saved), 'saved path ' + st.saved);
  assert.equal(await page.getAttribute('#saved-link', 'data-filepath'), st.saved);

  const list = await S.api(dev.base, 'imagepro=get_editor_images');
  assert.equal(list.code, '0', S.short(list));
  assert.ok(list.images.some((i) => i.filepath === st.saved), 'get_editor_images: ' + S.short(list));

  const url = dev.base + '/storage/' + st.saved.replace(/^\/+/, '');
  const resp = await fetch(url);
  assert.equal(resp.status, 200);
  const bytes = Buffer.from(await resp.arrayBuffer());
  assert.equal(bytes.subarray(1, 4).toString('latin1'), 'PNG');
  // Decoded by the browser (as a page would), every pixel compared.
  const got = await page.evaluate(async (u) => {
    const bmp = await createImageBitmap(await (await fetch(u)).blob());
    const c = document.createElement('canvas');
    c.width = bmp.width;
    c.height = bmp.height;
    const g = c.getContext('2d', { willReadFrequently: true });
    g.drawImage(bmp, 0, 0);
    return { w: bmp.width, h: bmp.height, data: Array.from(g.getImageData(0, 0, bmp.width, bmp.height).data) };
  }, url);
  // turned clockwise: output (X, Y) shows crop pixel (Y, h-1-X)
  assert.deepEqual([got.w, got.h], [CROP.h, CROP.w]);
  let bad = 0;
  let first = null;
  for (let Y = 0; Y < got.h; Y++) {
    for (let X = 0; X < got.w; X++) {
      const want = known(CROP.x + Y, CROP.y + (CROP.h - 1 - X));
      const k = (Y * got.w + X) * 4;
      const have = [got.data[k], got.data[k + 1], got.data[k + 2]];
      if (have[0] !== want[0] || have[1] !== want[1] || have[2] !== want[2]) {
        bad += 1;
        if (!first) first = { X, Y, have, want };
      }
    }
  }
  assert.equal(bad, 0, 'pixels differing from the expected crop and turn: ' + bad + ', first ' + JSON.stringify(first));
}));

test('the capture turned left and saved as JPEG', g.guard(async () => {
  await page.click('[data-testid="thumb-0"]');
  const st0 = await waitState((s) => s.index === 0 && s.loaded, 'the capture');
  assert.equal(await page.inputValue('#save-format'), 'jpeg');
  await page.click('#rotate-left');
  await waitState((s) => s.width === st0.height && s.height === st0.width, 'the turn');
  const r = await S.clickFor(page, '#save', 'save-result');
  assert.equal(r.code, '0', r.text);
  const st = await state();
  assert.match(st.saved, /^D:\/browser-test\/grab_edited\d*\.jpg$/);
  const list = await S.api(dev.base, 'imagepro=get_editor_images');
  const paths = list.images.map((i) => i.filepath);
  assert.equal(list.image_count, 2, S.short(list));
  assert.ok(paths.includes(st.saved), paths.join(', '));
  const resp = await fetch(dev.base + '/storage/' + st.saved.replace(/^[A-Za-z]:/, '').replace(/^\/+/, ''));
  assert.equal(resp.status, 200);
  const b = Buffer.from(await resp.arrayBuffer());
  assert.equal(b[0], 0xff);
  assert.equal(b[1], 0xd8);
  // size from the JPEG's frame header
  let i = 2;
  let size = null;
  while (i < b.length - 9) {
    if (b[i] !== 0xff) { i += 1; continue; }
    const m = b[i + 1];
    if (m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc) {
      size = [b.readUInt16BE(i + 7), b.readUInt16BE(i + 5)];
      break;
    }
    i += 2 + b.readUInt16BE(i + 2);
  }
  assert.deepEqual(size, [st0.height, st0.width]);
  await page.screenshot({ path: S.artifact('editor-saved.png') });
  assert.deepEqual(problems, []);
}));
