// Shared helpers of the browser tests: the daemon under test (--sim, a free loopback port, a
// temporary state directory), Debian's chromium through playwright-core, calls to the API from
// node, a small PNG writer and a static server for the cross-origin tests.
'use strict';

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const zlib = require('node:zlib');

const BROWSER_DIR = __dirname;
const REPO = path.resolve(BROWSER_DIR, '..', '..');
const UI_DIR = path.join(REPO, 'firmware', 'cameraserviced', 'ui');
const ARTIFACTS = path.join(BROWSER_DIR, 'artifacts');
const LOOPBACK = '127.0.0.1';
const READY_TIMEOUT_MS = 20000;
const STOP_TIMEOUT_MS = 10000;
const DAEMON_LIFETIME_S = 900; // the longest a test daemon lives
const ACTION_TIMEOUT_MS = 15000; // a click or wait in the browser; calls that take longer pass their own

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

function artifact(name) {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  return path.join(ARTIFACTS, name);
}

function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, LOOPBACK, () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function canConnect(port) {
  return new Promise((resolve) => {
    const s = net.connect({ host: LOOPBACK, port });
    const done = (ok) => {
      s.destroy();
      resolve(ok);
    };
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
    s.setTimeout(250, () => done(false));
  });
}

function tomlString(s) {
  return JSON.stringify(String(s));
}

function daemonBinary() {
  const env = process.env.CAMERASERVICED_BIN;
  return env ? path.resolve(env) : path.join(REPO, 'target', 'debug', 'cameraserviced');
}

/* Starts `cameraserviced --sim --config <tmp>/config.toml` on a free loopback port with its state
 * in a fresh temporary directory. Returns {base, port, pid, stateDir, log(), stop()}. */
async function startDaemon(extraToml) {
  const bin = daemonBinary();
  if (!fs.existsSync(bin)) throw new Error('daemon binary not built: ' + bin + ' (cargo build, or set CAMERASERVICED_BIN)');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cameraservice-browser-'));
  const stateDir = path.join(dir, 'state');
  fs.mkdirSync(stateDir);
  const port = await freePort();
  const config = [
    '[server]',
    'listen = [' + tomlString(LOOPBACK + ':' + port) + ']',
    '',
    '[storage]',
    'state_dir = ' + tomlString(stateDir),
    '',
    extraToml || '',
  ].join('\n');
  const configPath = path.join(dir, 'config.toml');
  fs.writeFileSync(configPath, config);
  const logPath = path.join(dir, 'daemon.log');
  const logFd = fs.openSync(logPath, 'w');
  const env = { ...process.env, RUST_BACKTRACE: '1' };
  delete env.NOTIFY_SOCKET;
  // Under coreutils' timeout, so a daemon whose test run died without stopping it still ends by
  // itself (timeout passes SIGTERM from stop() on to the daemon).
  const child = spawn('timeout', ['--kill-after=10', String(DAEMON_LIFETIME_S), bin, '--sim', '--config', configPath],
    { cwd: dir, env, stdio: ['ignore', logFd, logFd] });
  fs.closeSync(logFd);
  let exited = null;
  child.on('exit', (code, signal) => { exited = { code, signal }; });
  const log = () => {
    try {
      return fs.readFileSync(logPath, 'utf8');
    } catch (e) {
      return '';
    }
  };
  const tail = (n) => log().split('\n').slice(-(n || 40)).join('\n');

  async function stop() {
    if (exited === null) {
      try {
        process.kill(child.pid, 'SIGTERM');
      } catch (e) {
        // already gone
      }
      const deadline = Date.now() + STOP_TIMEOUT_MS;
      while (exited === null && Date.now() < deadline) await sleep(50);
      if (exited === null) {
        try {
          process.kill(child.pid, 'SIGKILL');
        } catch (e) {
          // already gone
        }
        while (exited === null) await sleep(20);
      }
    }
    try {
      fs.copyFileSync(logPath, artifact('daemon.log'));
    } catch (e) {
      // best effort
    }
    fs.rmSync(dir, { recursive: true, force: true });
    return exited;
  }

  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (exited !== null) throw new Error('cameraserviced exited (' + JSON.stringify(exited) + ') before listening; log:\n' + tail());
    if (await canConnect(port)) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error('cameraserviced not listening on ' + port + ' after ' + READY_TIMEOUT_MS / 1000 + ' s; log:\n' + tail());
    }
    await sleep(25);
  }
  return { base: 'http://' + LOOPBACK + ':' + port, port, pid: child.pid, stateDir, log, tail, stop };
}

/* The device the tests talk to: the daemon run.sh started (CAMERASERVICE_URL), else one of the
 * test file's own. */
async function device() {
  const url = process.env.CAMERASERVICE_URL;
  if (url) return { base: url.replace(/\/+$/, ''), stop: async () => {}, tail: () => '' };
  return startDaemon();
}

/* Debian's chromium, headless, with a fresh profile directory. Returns the browser context
 * (close() also removes the profile). */
async function launchBrowser(options) {
  const { chromium } = require('playwright-core');
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'cameraservice-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM_BIN || '/usr/bin/chromium',
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1400, height: 900 },
    ...(options || {}),
  });
  const close = context.close.bind(context);
  context.close = async () => {
    try {
      await close();
    } finally {
      fs.rmSync(profile, { recursive: true, force: true });
    }
  };
  for (const p of context.pages()) await p.close();
  context.setDefaultTimeout(ACTION_TIMEOUT_MS);
  return context;
}

/* Page errors, console errors and failed loads (with their addresses), for a check at the end
 * of a test file. */
function watchPage(page) {
  const problems = [];
  page.on('pageerror', (e) => problems.push('pageerror: ' + e.message));
  page.on('console', (m) => {
    // A failed load is reported by the response handler with its address.
    if (m.type() === 'error' && !/^Failed to load resource/.test(m.text())) problems.push('console: ' + m.text());
  });
  page.on('response', (r) => {
    if (r.status() >= 400) problems.push('HTTP ' + r.status() + ' ' + r.request().method() + ' ' + r.url());
  });
  return problems;
}

/* Tests that later tests build on: once one of them failed, the tests after it fail at once
 * (naming the reason) instead of each waiting for its own time-outs. `onFail(testName)` runs
 * for every failing test (e.g. a screenshot).
 *   const g = gate(onFail);  test('a', g.critical('why later tests cannot run', fn));  test('b', g.guard(fn)); */
function gate(onFail) {
  let reason = null;
  const wrap = (why, fn) => async (t) => {
    if (reason) throw new Error('not run: ' + reason);
    try {
      return await fn(t);
    } catch (e) {
      if (why) reason = why;
      if (onFail) await Promise.resolve(onFail(t.name)).catch(() => {});
      throw e;
    }
  };
  return { guard: (fn) => wrap(null, fn), critical: wrap };
}

/* A file name made of a test's name. */
function slug(text) {
  return String(text).toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 60);
}

/* POST JSON to the device from node; the reply object. */
async function api(base, endpoint, body, timeoutMs) {
  const resp = await fetch(base + '/' + endpoint, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body === undefined ? {} : body),
    signal: AbortSignal.timeout(timeoutMs || 60000),
  });
  const text = await resp.text();
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Error(endpoint + ': HTTP ' + resp.status + ', not JSON: ' + text.slice(0, 200));
  }
}

function short(reply) {
  return JSON.stringify(reply, (k, v) => (typeof v === 'string' && v.length > 120 ? v.slice(0, 40) + '…(' + v.length + ')' : v));
}

/* A result box of the pages (data-state pending -> done/error, data-code): waits for the call
 * the last click started and returns {state, code, text}. */
async function resultOf(page, id, timeoutMs) {
  await page.waitForFunction((i) => {
    const e = document.getElementById(i);
    return e && (e.dataset.state === 'done' || e.dataset.state === 'error');
  }, id, { timeout: timeoutMs || 60000 });
  return page.evaluate((i) => {
    const e = document.getElementById(i);
    return { state: e.dataset.state, code: e.dataset.code, text: e.textContent };
  }, id);
}

/* Clicks a button and waits for its result box. */
async function clickFor(page, buttonSelector, resultId, timeoutMs) {
  await page.click(buttonSelector);
  return resultOf(page, resultId, timeoutMs);
}

// ------------------------------------------------------------------ PNG writer

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(buf) {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type, data) {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
}

/* An 8-bit RGB PNG of width x height whose pixel (x, y) is colourAt(x, y) = [r, g, b]. */
function makePng(width, height, colourAt) {
  const raw = Buffer.alloc((width * 3 + 1) * height);
  let o = 0;
  for (let y = 0; y < height; y++) {
    raw[o++] = 0; // filter: none
    for (let x = 0; x < width; x++) {
      const [r, g, b] = colourAt(x, y);
      raw[o++] = r;
      raw[o++] = g;
      raw[o++] = b;
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // colour type: RGB
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', zlib.deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

// ------------------------------------------------------------------ static server

const UI_FILES = ['index.html', 'editor.html', 'style.css', 'api.js', 'demo.js', 'editor.js'];
const TYPES = { '.html': 'text/html; charset=utf-8', '.css': 'text/css; charset=utf-8', '.js': 'text/javascript; charset=utf-8' };

/* A static server on another loopback port, standing for an integrator's web server: `pages`
 * maps paths to HTML text; /ui/<name> serves the device's page files from the repository and
 * /node_modules/... the two libraries integrators load. Stops with close(). */
async function staticServer(pages) {
  const files = {
    '/node_modules/jquery/dist/jquery.min.js': path.join(BROWSER_DIR, 'node_modules', 'jquery', 'dist', 'jquery.min.js'),
    '/node_modules/axios/dist/axios.min.js': path.join(BROWSER_DIR, 'node_modules', 'axios', 'dist', 'axios.min.js'),
  };
  for (const name of UI_FILES) files['/ui/' + name] = path.join(UI_DIR, name);
  const server = http.createServer((req, res) => {
    const p = new URL(req.url, 'http://x').pathname;
    let body = null;
    let type = 'text/html; charset=utf-8';
    if (pages && Object.prototype.hasOwnProperty.call(pages, p)) {
      body = Buffer.from(pages[p]);
    } else if (Object.prototype.hasOwnProperty.call(files, p)) {
      body = fs.readFileSync(files[p]);
      type = TYPES[path.extname(p)] || 'application/octet-stream';
    }
    if (body === null || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { 'Content-Type': 'text/plain' });
      res.end('not found');
      return;
    }
    res.writeHead(200, { 'Content-Type': type, 'Content-Length': body.length, 'Cache-Control': 'no-store' });
    res.end(req.method === 'HEAD' ? undefined : body);
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, LOOPBACK, resolve);
  });
  const sockets = new Set();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  const { port } = server.address();
  return {
    origin: 'http://' + LOOPBACK + ':' + port,
    close: () => new Promise((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}

module.exports = {
  REPO, UI_DIR, ARTIFACTS, LOOPBACK, artifact, sleep, freePort, startDaemon, device, launchBrowser,
  watchPage, gate, slug, api, short, resultOf, clickFor, makePng, staticServer, UI_FILES,
};
