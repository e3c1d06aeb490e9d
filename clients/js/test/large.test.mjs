// The done-criterion of issue #17 for the browser package (in Node.js): a 1 GiB file through a proxy that cuts a
// request body every 300 MiB, and a SIGKILL + restart of the sample server halfway, arrives intact, for each protocol.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Upload, MemoryUploadStorage } from '../dist/index.js';
import { SampleServer, Proxy, patternFile, patternSha256 } from './harness.mjs';

const GiB = 1 << 30;
let server;
before(async () => { server = await SampleServer.start(); });
after(async () => { await server?.stop(); });

for (const c of [{ protocol: 'xfileid' }, { protocol: 'tus' }, { protocol: 'ietf', ietfInteropVersion: 6 }]) {
  test(`${c.protocol}: 1 GiB through a connection-dropping proxy and a server restart is stored intact`, async () => {
    const proxy = await new Proxy(() => server.port, { dropEveryBytes: 300 << 20 }).start();
    let restart = null;
    try {
      const file = patternFile(`big-${c.protocol}.bin`, GiB, 3);
      const started = Date.now();
      const upload = new Upload(file, {
        endpoint: proxy.base, protocol: c.protocol, ietfInteropVersion: c.ietfInteropVersion ?? 6, chunkSize: 32 << 20,
        retryDelay: 100, maxRetryDelay: 1000, checksums: false, storage: new MemoryUploadStorage(),
        onProgress: p => { if (!restart && p.bytesUploaded > GiB / 2) restart = server.restart(); },
      });
      const result = await upload.start();
      await restart;
      console.log(`# ${c.protocol}: 1 GiB in ${((Date.now() - started) / 1000).toFixed(1)} s, ${proxy.drops} drops`);
      assert.ok(restart, 'the server was restarted mid-upload');
      assert.ok(proxy.drops >= 2, `drops: ${proxy.drops}`);
      assert.equal(await server.sha256(result), patternSha256(GiB, 3));
    } finally { await proxy.stop(); }
  });
}
