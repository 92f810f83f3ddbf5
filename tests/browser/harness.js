// Starts one --sim daemon for the browser tests, runs them (node --test, one file at a time),
// then stops the daemon by its pid. Exit status: the test runner's. Started by run.sh.
'use strict';

const { spawn } = require('node:child_process');
const path = require('node:path');
const { startDaemon } = require('./support');

const FILES = ['demo.test.js', 'editor.test.js', 'cross-origin.test.js'];

async function main() {
  const only = process.argv.slice(2);
  const files = (only.length ? only : FILES).map((f) => path.join(__dirname, path.basename(f)));
  const t0 = Date.now();
  const dev = await startDaemon();
  console.log(`browser tests: daemon pid ${dev.pid} at ${dev.base} (started in ${Date.now() - t0} ms)`);
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    const how = await dev.stop();
    console.log(`browser tests: daemon stopped (${JSON.stringify(how)}); its log is in tests/browser/artifacts/daemon.log`);
  };
  let child = null;
  for (const sig of ['SIGINT', 'SIGTERM']) {
    process.on(sig, async () => {
      if (child) child.kill(sig);
      await stop();
      process.exit(130);
    });
  }
  const code = await new Promise((resolve) => {
    child = spawn(process.execPath, ['--test', '--test-concurrency=1', '--test-timeout=300000', '--test-reporter=spec', ...files], {
      stdio: 'inherit',
      env: { ...process.env, CAMERASERVICE_URL: dev.base },
    });
    child.on('exit', (c, s) => resolve(c === null ? 1 : c));
  });
  child = null;
  await stop();
  console.log(`browser tests: ${code === 0 ? 'passed' : 'FAILED'} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  process.exit(code);
}

main().catch((e) => {
  console.error(e && e.stack ? e.stack : e);
  process.exit(1);
});
