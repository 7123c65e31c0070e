// Runs the graphql-http audit suite (GraphQL over HTTP conformance,
// https://github.com/graphql/graphql-http) against a freshly built wagraph:
// builds the server, migrates a throwaway SQLite database, creates a VIEWER
// token with `wagraph token create`, starts the server on a free loopback
// port, audits it with the token in every request (as an app would send it),
// prints every result and exits 1 unless all of them are ok: no error, no
// warning, no notice.
//
//   cd .ci/graphql-http-audit && npm ci && node audit.mjs
//
// WAGRAPH_URL=http://host:port/graphql WAGRAPH_TOKEN=... audits a server
// that is already running instead.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serverAudits } from 'graphql-http';

const repo = fileURLToPath(new URL('../..', import.meta.url));

function freePort() {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.on('error', fail);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => ok(port));
    });
  });
}

async function waitHealthy(base, server) {
  for (let i = 0; i < 300; i++) {
    if (server.exitCode !== null) throw new Error(`wagraph exited with ${server.exitCode}`);
    try {
      const res = await fetch(`${base}/healthz`);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('wagraph did not become healthy within 30 s');
}

async function startServer() {
  const work = mkdtempSync(join(tmpdir(), 'wagraph-audit-'));
  const bin = join(work, 'wagraph');
  console.log('building wagraph…');
  execFileSync('go', ['build', '-o', bin, '.'], { cwd: repo, stdio: 'inherit' });
  const port = await freePort();
  const env = {
    ...process.env,
    DATABASE_URL: `sqlite:${join(work, 'wagraph.db')}`,
    LISTEN_ADDR: `127.0.0.1:${port}`,
    LOG_FORMAT: 'json',
    LOG_LEVEL: 'warn',
    REDIS_URL: '',
  };
  execFileSync(bin, ['migrate'], { cwd: work, env, stdio: ['ignore', 'ignore', 'inherit'] });
  const token = execFileSync(bin, ['token', 'create', '--role', 'VIEWER', '--name', 'graphql-http-audit'], {
    cwd: work,
    env,
    stdio: ['ignore', 'pipe', 'inherit'],
  })
    .toString()
    .trim();
  const server = spawn(bin, [], { cwd: work, env, stdio: ['ignore', 'ignore', 'inherit'] });
  const base = `http://127.0.0.1:${port}`;
  await waitHealthy(base, server);
  const stop = () => {
    server.kill('SIGTERM');
    rmSync(work, { recursive: true, force: true });
  };
  return { url: `${base}/graphql`, token, stop };
}

const target = process.env.WAGRAPH_URL
  ? { url: process.env.WAGRAPH_URL, token: process.env.WAGRAPH_TOKEN ?? '', stop: () => {} }
  : await startServer();

let failed = 0;
try {
  const audits = serverAudits({
    url: target.url,
    fetchFn: (input, init = {}) => {
      const headers = new Headers(init.headers);
      if (target.token) headers.set('authorization', `Bearer ${target.token}`);
      return fetch(input, { ...init, headers });
    },
  });
  const counts = {};
  for (const audit of audits) {
    const result = await audit.fn();
    counts[result.status] = (counts[result.status] ?? 0) + 1;
    if (result.status === 'ok') {
      console.log(`ok      ${result.id} ${result.name}`);
      continue;
    }
    failed++;
    let body = '';
    try {
      body = await result.response.text();
    } catch {
      // the body was read by the audit already
    }
    console.log(`${result.status.padEnd(7)} ${result.id} ${result.name}`);
    console.log(`        ${result.reason}`);
    console.log(`        HTTP ${result.response.status} ${result.response.headers.get('content-type') ?? ''} ${body.slice(0, 300)}`);
  }
  console.log(
    `\ngraphql-http audit: ${Object.entries(counts)
      .map(([status, n]) => `${n} ${status}`)
      .join(', ')}`,
  );
} finally {
  target.stop();
}
process.exit(failed === 0 ? 0 : 1);
