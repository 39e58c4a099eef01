// Sends requests one at a time over a node:http2 client session to an in-process server and marks,
// on stdout, where the measured part starts and ends; run with `node --trace-gc-nvp`, the scavenges
// between the marks say how much of each request survived into the old generation
// (test/unit/async-bind.test.ts). `lean` installs src/ops/async-bind.ts first.
import http2 from 'node:http2';

if (process.argv[2] === 'lean') {
  const { installLeanAsyncBind } = await import('../../src/ops/async-bind.ts');
  if (!installLeanAsyncBind()) throw new Error('the lean bind was not installed');
}
const REQUESTS = 3000;
const server = http2.createServer();
server.on('stream', (stream) => {
  stream.respond({ ':status': 200 });
  stream.end('ok');
});
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const session = http2.connect(`http://127.0.0.1:${server.address().port}`);
const one = () =>
  new Promise((resolve) => {
    const request = session.request({ ':method': 'POST', ':path': '/p' }, { endStream: true });
    request.resume();
    request.on('close', resolve);
  });
for (let i = 0; i < 300; i++) await one();
console.log('MEASURE START');
for (let i = 0; i < REQUESTS; i++) await one();
console.log(`MEASURE END ${REQUESTS}`);
session.close();
server.close();
