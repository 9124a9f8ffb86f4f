// Baseline for `npm run bench`: the least a node:http server can do for the same requests.
// GET returns a fixed 1 KiB JSON body; PUT appends the body to a file and fdatasyncs it (a durable write, no batching).
import { fdatasyncSync, openSync, writeSync } from 'node:fs';
import { createServer } from 'node:http';

const body = JSON.stringify({ value: 'x'.repeat(1024 - 12) });
const fd = process.argv[2] ? openSync(process.argv[2], 'a') : undefined;
const server = createServer((req, res) => {
  if (req.method === 'PUT') {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      if (fd !== undefined) {
        writeSync(fd, Buffer.concat(chunks));
        fdatasyncSync(fd);
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"ok":true}');
    });
    return;
  }
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(body);
});
server.keepAliveTimeout = 5000;
server.listen(0, '127.0.0.1', () => process.stdout.write(`listening on http://127.0.0.1:${server.address().port}\n`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
