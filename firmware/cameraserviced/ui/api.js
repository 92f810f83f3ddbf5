/* CameraService API client shared by the device's pages (demo and image editor).
 *
 * Every endpoint is POST http://HOST:38088/GROUP=ACTION with a JSON body; every reply is a JSON
 * object whose `code` is a string ("0" = success, otherwise `message` says why).
 *
 * window.CameraApi:
 *   base                     device address, e.g. "http://192.168.7.1:38088" (no trailing slash)
 *   setBase(text)            change it (a bare "host:port" gets "http://")
 *   url(endpoint)            absolute URL of an endpoint or path
 *   storageUrl(filepath)     download URL of a stored file (/storage/<filepath>)
 *   call(endpoint, body)     -> Promise of the reply object (network failures and non-JSON replies reject)
 *   request(endpoint, body)  -> Promise of {reply, status, ms} (the same, with HTTP status and time)
 *   shorten(value)           copy with long base64 strings shortened, for display
 *   format(value)            shorten() as indented JSON text
 *   showError(el, err)       show an error (Error or reply) in an element
 *   attachLog(el)            calls made through request() are listed in el (newest first)
 */
'use strict';

(function () {
  const FALLBACK_BASE = 'http://127.0.0.1:38088';
  const DEFAULT_TIMEOUT_MS = 90000;
  const LOG_LIMIT = 150;

  function normalizeBase(text) {
    let s = String(text == null ? '' : text).trim();
    if (!s) return FALLBACK_BASE;
    if (!/^https?:\/\//i.test(s)) s = 'http://' + s;
    return s.replace(/\/+$/, '');
  }

  /* The device address: ?device=... in the page's URL, else the page's own origin when the
   * device served it (http/https), else the usual local address. */
  function initialBase() {
    const fromQuery = new URLSearchParams(location.search).get('device');
    if (fromQuery) return normalizeBase(fromQuery);
    if (location.protocol === 'http:' || location.protocol === 'https:') return location.origin;
    return FALLBACK_BASE;
  }

  const B64_RE = /^(data:[^,]{0,100},)?[A-Za-z0-9+/=_\-\r\n]+$/;

  function shortenString(s) {
    if (s.length > 160 && B64_RE.test(s.slice(0, 4000))) {
      return s.slice(0, 48) + '… (' + s.length + ' chars)';
    }
    if (s.length > 2000) return s.slice(0, 2000) + '… (' + s.length + ' chars)';
    return s;
  }

  function shorten(value, depth) {
    depth = depth || 0;
    if (typeof value === 'string') return shortenString(value);
    if (depth > 20 || value === null || typeof value !== 'object') return value;
    if (Array.isArray(value)) return value.map((v) => shorten(v, depth + 1));
    const out = {};
    for (const k of Object.keys(value)) out[k] = shorten(value[k], depth + 1);
    return out;
  }

  function format(value) {
    return JSON.stringify(shorten(value), null, 2);
  }

  function timeText(d) {
    const p = (n, w) => String(n).padStart(w || 2, '0');
    return p(d.getHours()) + ':' + p(d.getMinutes()) + ':' + p(d.getSeconds()) + '.' + p(d.getMilliseconds(), 3);
  }

  let logEl = null;

  function addLog(entry) {
    if (!logEl) return;
    const item = document.createElement('div');
    item.className = 'log-entry ' + (entry.ok ? 'ok' : 'fail');
    item.dataset.endpoint = entry.endpoint;
    item.dataset.code = entry.code;
    const head = document.createElement('div');
    head.className = 'log-head';
    head.textContent = timeText(entry.at) + '  ' + entry.endpoint + '  →  ' +
      (entry.code !== '' ? 'code ' + entry.code : 'ERROR') +
      (entry.status ? '  (HTTP ' + entry.status + ', ' + entry.ms + ' ms)' : '  (' + entry.ms + ' ms)');
    item.appendChild(head);
    if (entry.body !== undefined) {
      const req = document.createElement('details');
      const sum = document.createElement('summary');
      sum.textContent = '请求 / request';
      const pre = document.createElement('pre');
      pre.textContent = format(entry.body);
      req.appendChild(sum);
      req.appendChild(pre);
      item.appendChild(req);
    }
    const pre = document.createElement('pre');
    pre.className = 'log-reply';
    pre.textContent = entry.reply !== undefined ? format(entry.reply) : String(entry.error);
    item.appendChild(pre);
    logEl.insertBefore(item, logEl.firstChild);
    while (logEl.childNodes.length > LOG_LIMIT) logEl.removeChild(logEl.lastChild);
  }

  const api = {
    base: initialBase(),
    fallbackBase: FALLBACK_BASE,

    setBase(text) {
      this.base = normalizeBase(text);
      return this.base;
    },

    url(endpoint) {
      const e = String(endpoint);
      if (/^https?:\/\//i.test(e)) return e;
      return this.base + '/' + e.replace(/^\/+/, '');
    },

    /* A stored file's download address. Client paths are resolved on the device the way it
     * resolves them: drive letter dropped, backslashes are slashes. */
    storageUrl(filepath) {
      let p = String(filepath || '').replace(/\\/g, '/').replace(/^[A-Za-z]:/, '').replace(/^\/+/, '');
      p = p.split('/').map(encodeURIComponent).join('/');
      return this.base + '/storage/' + p;
    },

    /* {reply, status, ms}; rejects on network failure, time-out or a reply that is not JSON. */
    async request(endpoint, body, opts) {
      opts = opts || {};
      const started = performance.now();
      const at = new Date();
      const ctl = new AbortController();
      const timer = setTimeout(() => ctl.abort(), opts.timeout || DEFAULT_TIMEOUT_MS);
      let status = 0;
      try {
        const resp = await fetch(this.url(endpoint), {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: body === undefined ? '{}' : JSON.stringify(body),
          signal: ctl.signal,
          cache: 'no-store',
        });
        status = resp.status;
        const text = await resp.text();
        let reply;
        try {
          reply = JSON.parse(text);
        } catch (e) {
          throw new Error('HTTP ' + status + ': reply is not JSON: ' + text.slice(0, 200));
        }
        if (reply === null || typeof reply !== 'object') {
          throw new Error('HTTP ' + status + ': reply is not a JSON object');
        }
        const ms = Math.round(performance.now() - started);
        if (!opts.quiet) {
          addLog({ at, endpoint, body, reply, status, ms, code: String(reply.code), ok: reply.code === '0' });
        }
        return { reply, status, ms };
      } catch (err) {
        const ms = Math.round(performance.now() - started);
        let e = err;
        if (err && err.name === 'AbortError') e = new Error('no reply within ' + Math.round((opts.timeout || DEFAULT_TIMEOUT_MS) / 1000) + ' s');
        else if (err instanceof TypeError) e = new Error('network error: cannot reach ' + this.base + ' (' + err.message + ')');
        if (!opts.quiet) addLog({ at, endpoint, body, error: e.message, status, ms, code: '', ok: false });
        throw e;
      } finally {
        clearTimeout(timer);
      }
    },

    async call(endpoint, body, opts) {
      return (await this.request(endpoint, body, opts)).reply;
    },

    shorten,
    format,

    /* Text for a failed call: an Error, or a reply whose code is not "0". */
    describeError(err) {
      if (err && typeof err === 'object' && 'code' in err && !(err instanceof Error)) {
        return 'code ' + err.code + (err.message ? ': ' + err.message : '');
      }
      return err && err.message ? err.message : String(err);
    },

    showError(el, err) {
      if (!el) return;
      el.classList.add('error');
      el.textContent = this.describeError(err);
    },

    attachLog(el) {
      logEl = el;
    },
  };

  window.CameraApi = api;
})();
