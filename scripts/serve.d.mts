import type { IncomingMessage, ServerResponse } from 'node:http';

/** A request handler for the files under root; a path escaping root or not found is a 404. */
export function staticFiles(root: string): (req: IncomingMessage, res: ServerResponse) => Promise<void>;
