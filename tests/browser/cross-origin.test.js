// Pages from another origin calling the device, as integrators' pages do: a static server on
// another loopback port serves a page that loads jQuery and axios (from node_modules, through that
// server) and calls the device with $.ajax (a JSON text posted with jQuery's default form content
// type: no preflight), axios.post (JSON: preflighted), $.post and a stored-file download; and the
// device's own demo page saved on that server, pointed at the device through its address field.
// Screenshot: artifacts/cross-origin.png.
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const S = require('./support');

const INTEGRATOR_PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>integrator page</title>
<script src="/node_modules/jquery/dist/jquery.min.js"></script>
<script src="/node_modules/axios/dist/axios.min.js"></script>
</head><body>
<h1>Integrator page</h1>
<img id="preview" alt="preview">
<pre id="out"></pre>
<script>
'use strict';
const DEV = new URLSearchParams(location.search).get('device');
const results = {};
window.results = results;
function note(name, value) {
  results[name] = value;
  document.getElementById('out').textContent += name + ': ' + JSON.stringify(value, (k, v) =>
    typeof v === 'string' && v.length > 80 ? v.slice(0, 30) + '…' : v) + '\\n';
}
async function main() {
  // 1. $.ajax as in the vendor's samples: JSON text, jQuery's default form content type
  const grab = await $.ajax({
    type: 'POST', url: DEV + '/video=grabimage', dataType: 'json',
    data: JSON.stringify({ camidx: '0', make_uuid: '1', image_process_info: { cut_type: '0' } }),
  });
  note('ajax_grab', { code: grab.code, message: grab.message, filepath: grab.images && grab.images[0].filepath,
    base64: grab.images && grab.images[0].base64.slice(0, 4) });
  // 2. axios.post: a JSON body (application/json, so the browser sends a preflight first)
  const ver = await axios.post(DEV + '/param=get', { type: 'app_version' });
  note('axios_version', { status: ver.status, code: ver.data.code, app_version: ver.data.app_version });
  const status = await axios.post(DEV + '/video=status', {});
  note('axios_status', { code: status.data.code, video0: status.data.video0 });
  // 3. $.post with a JSON text (form content type) and dataType json
  const sam = await $.post(DEV + '/card=getsamid', JSON.stringify({}), null, 'json');
  note('post_samid', { code: sam.code, samID: sam.samID });
  const cache = await $.post(DEV + '/param=set', JSON.stringify({ type: 'set_cache_data', key: 'integrator', value: 'a+b/c==' }), null, 'json');
  note('post_cache_set', { code: cache.code });
  const back = await $.post(DEV + '/param=get', JSON.stringify({ type: 'get_cache_data', key: 'integrator' }), null, 'json');
  note('post_cache_get', { code: back.code, value: back.value });
  // 4. the captured file, downloaded cross-origin (needs the CORS headers on /storage/)
  const file = await axios.get(DEV + '/storage' + results.ajax_grab.filepath, { responseType: 'arraybuffer' });
  const b = new Uint8Array(file.data);
  note('download', { status: file.status, type: file.headers['content-type'], soi: [b[0], b[1]], bytes: b.length });
  // 5. a merge with a JSON array body through $.ajax
  const pdf = await $.ajax({ type: 'POST', url: DEV + '/imagepro=merge2pdf', dataType: 'json',
    data: JSON.stringify([{ filepath: results.ajax_grab.filepath }]) });
  note('ajax_pdf', { code: pdf.code, filepath: pdf.filepath, head: atob(pdf.base64.slice(0, 8)).slice(0, 4) });
  // 6. the live preview as a plain <img>
  await new Promise((resolve, reject) => {
    const img = document.getElementById('preview');
    img.onload = resolve;
    img.onerror = () => reject(new Error('stream did not load'));
    img.src = DEV + '/video=stream&camidx=1&tid=' + Date.now();
  });
  note('stream', { width: document.getElementById('preview').naturalWidth });
}
main().then(() => { window.done = 'ok'; }, (e) => { window.done = 'error: ' + (e && (e.message || e.statusText) || e); });
</script>
</body></html>
`;

const g = S.gate((name) => page && page.screenshot({ path: S.artifact('failed-cross-origin-' + S.slug(name) + '.png') }));
let dev;
let server;
let context;
let page;

before(async () => {
  dev = await S.device();
  server = await S.staticServer({ '/integrator.html': INTEGRATOR_PAGE });
  context = await S.launchBrowser();
  page = await context.newPage();
});

after(async () => {
  if (context) await context.close();
  if (server) await server.close();
  if (dev) await dev.stop();
});

test('an integrator page on another origin calls the device with jQuery and axios', g.guard(async () => {
  assert.notEqual(new URL(server.origin).port, new URL(dev.base).port);
  await page.goto(server.origin + '/integrator.html?device=' + encodeURIComponent(dev.base));
  await page.waitForFunction(() => window.done, null, { timeout: 60000 });
  const done = await page.evaluate(() => window.done);
  const r = await page.evaluate(() => window.results);
  assert.equal(done, 'ok', JSON.stringify(r));
  assert.equal(r.ajax_grab.code, '0', JSON.stringify(r.ajax_grab));
  assert.match(r.ajax_grab.filepath, /^\/images\/.+\.jpg$/);
  assert.equal(r.ajax_grab.base64, '/9j/');
  assert.equal(r.axios_version.status, 200);
  assert.equal(r.axios_version.code, '0');
  assert.ok(r.axios_version.app_version);
  assert.equal(r.axios_status.code, '0');
  assert.equal(r.post_samid.code, '0');
  assert.ok(r.post_samid.samID);
  assert.equal(r.post_cache_set.code, '0');
  assert.deepEqual(r.post_cache_get, { code: '0', value: 'a+b/c==' });
  assert.equal(r.download.status, 200);
  assert.match(r.download.type, /^image\/jpeg/);
  assert.deepEqual(r.download.soi, [0xff, 0xd8]);
  assert.equal(r.ajax_pdf.code, '0');
  assert.equal(r.ajax_pdf.head, '%PDF');
  assert.ok(r.stream.width > 0);
}));

test('the demo page saved on another origin works with the device address field', g.guard(async () => {
  await page.goto(server.origin + '/ui/index.html');
  // Served by another server, it first tries that server's own address, which is no device.
  assert.equal(await page.inputValue('#device-address'), server.origin);
  await page.waitForSelector('#device-state.fail', { timeout: 15000 });
  await page.fill('#device-address', dev.base);
  await page.click('#device-connect');
  await page.waitForSelector('#device-state.ok', { timeout: 15000 });
  const cams = await S.resultOf(page, 'cameras-result');
  assert.equal(cams.code, '0', cams.text);
  const src = await page.getAttribute('#stream-0', 'src');
  assert.ok(src.startsWith(dev.base + '/video=stream&camidx=0'), src);
  for (const camidx of ['0', '1']) {
    await page.waitForFunction((i) => document.getElementById('stream-' + i).naturalWidth > 0, camidx, { timeout: 15000 });
  }
  let r = await S.clickFor(page, '#grab', 'grab-result');
  assert.equal(r.code, '0', r.text);
  r = await S.clickFor(page, '#merge-pdf', 'merge-result');
  assert.equal(r.code, '0', r.text);
  const href = await page.getAttribute('#merge-link', 'href');
  assert.ok(href.startsWith(dev.base + '/storage/'), href);
  r = await S.clickFor(page, '#card-samid', 'card-result');
  assert.equal(r.code, '0', r.text);
  r = await S.clickFor(page, '#diag-refresh', 'diag-status');
  assert.equal(r.code, '0', 'diag=status: ' + r.text);

  // The editor opens on the device, whatever origin the demo page came from.
  const [popup] = await Promise.all([context.waitForEvent('page', { timeout: 30000 }), page.click('#editor-start')]);
  r = await S.resultOf(page, 'editor-result');
  assert.equal(r.code, '0', r.text);
  await popup.waitForURL(/\/ui\/editor\.html\?session=/, { timeout: 15000 });
  assert.ok(popup.url().startsWith(dev.base + '/ui/editor.html'), popup.url());
  await popup.waitForFunction(() => window.editorState && window.editorState.loaded, null, { timeout: 30000 });
  await popup.close();

  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: S.artifact('cross-origin.png'), fullPage: false });
}));

test('?device= in the address sets the device address', g.guard(async () => {
  await page.goto(server.origin + '/ui/index.html?device=' + encodeURIComponent(dev.base));
  assert.equal(await page.inputValue('#device-address'), dev.base);
  await page.waitForSelector('#device-state.ok', { timeout: 15000 });
}));
