// Serves the repository on localhost for the browser example (examples/browser/) and the browser
// tests: `node scripts/serve.mjs [port]`, then open the printed address in a browser with WebGPU.
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const TYPES = {
  '.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript', '.css': 'text/css',
  '.svg': 'image/svg+xml', '.json': 'application/json', '.map': 'application/json', '.wgsl': 'text/plain',
};

/** A request handler for the files under root; a path escaping root or not found is a 404. */
export function staticFiles(root) {
  return async (req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname);
    let file = normalize(join(root, path));
    if (path.endsWith('/')) file = join(file, 'index.html');
    if (!file.startsWith(normalize(root + sep))) {
      res.statusCode = 404;
      return res.end();
    }
    try {
      const body = await readFile(file);
      res.setHeader('content-type', TYPES[extname(file)] ?? 'application/octet-stream');
      res.end(body);
    } catch {
      res.statusCode = 404;
      res.end(`not found: ${path}`);
    }
  };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === normalize(process.argv[1])) {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const port = Number(process.argv[2] ?? 8080);
  createServer(staticFiles(root)).listen(port, '127.0.0.1', () => {
    console.log(`bionas: serving ${root} at http://localhost:${port}/`);
    console.log(`  the browser example: http://localhost:${port}/examples/browser/`);
    console.log('  (needs WebGPU: Chrome/Edge 113+; on Linux start Chrome with --enable-unsafe-webgpu)');
  });
}
