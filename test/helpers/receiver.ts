/**
 * A real HTTP receiver for the plan's notifications: it records every request, and answers 503 to the first
 * `failFirst` attempts of each idempotency key.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Delivery {
  key: string;
  body: Record<string, unknown>;
}

export class Receiver {
  readonly requests: Delivery[] = [];
  private readonly server: Server;
  constructor(private readonly failFirst = 0) {
    this.server = createServer((req, res) => void this.handle(req, res));
  }
  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hook`;
  }
  stop(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
  /** The events delivered, one per idempotency key (what a receiver that dedups by key counts). */
  events(): string[] {
    const seen = new Map<string, string>();
    for (const r of this.requests) seen.set(r.key, String(r.body.event));
    return [...seen.values()];
  }
  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let text = '';
    for await (const chunk of req) text += chunk;
    const key = String(req.headers['idempotency-key'] ?? '');
    this.requests.push({ key, body: JSON.parse(text) as Record<string, unknown> });
    const attempts = this.requests.filter((r) => r.key === key).length;
    res.statusCode = attempts <= this.failFirst ? 503 : 200;
    res.end();
  }
}

/** A receiver for a test file: started before its tests, stopped after them; `url` once started. */
export function useReceiver(failFirst = 0): { readonly receiver: Receiver; readonly url: string } {
  const receiver = new Receiver(failFirst);
  let url = '';
  beforeAll(async () => {
    url = await receiver.start();
  });
  afterAll(() => receiver.stop());
  return {
    receiver,
    get url() {
      return url;
    },
  };
}
