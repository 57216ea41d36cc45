import { createServer, Socket, type AddressInfo, type Server } from 'node:net';
import { monoNow } from './records.js';

/**
 * A successful acquire reply: the bulk string `1 fencingToken lastSuccessAt previousTick` (see
 * stores/redis/acquire.ts), read as latin1 so that match offsets are byte offsets.
 */
const ACQUIRED_REPLY = /\$\d+\r\n1 \d+ /;

interface Pair {
  client: Socket;
  server: Socket;
  /** Bytes held back while partitioned, per direction. */
  held: { up: Buffer[]; down: Buffer[] };
  /** Half-open for good (see `freezeOpen()`): every byte dropped, in both directions. */
  frozen: boolean;
}

/** What the proxy did when it dropped an acquire reply. */
export interface DroppedReply {
  /** Monotonic ms just before the reply was dropped and the client connection reset. */
  mono: number;
}

/**
 * A TCP proxy in front of a Redis server, with two faults:
 *
 * - `partition()` / `heal()`: a network partition. Connections stay open but no byte moves in
 *   either direction, and new connections are accepted but not forwarded; bytes in flight are
 *   held, as TCP retransmission would, and delivered in order on heal. (Dropping them instead
 *   would corrupt the RESP stream, which no real network does to a live TCP connection.)
 * - `freezeOpen()`: the connections open now go half-open for good, as when a NAT or a load
 *   balancer silently forgets an idle flow: they stay open, every byte on them is dropped, and
 *   connections made afterwards are forwarded as usual.
 * - `dropNextAcquireReply()`: forwards the next acquire command, lets the server run it, then
 *   drops its successful reply and resets that client's connection — a lost reply.
 */
export class RedisTcpProxy {
  private readonly pairs = new Set<Pair>();
  private partitioned = false;
  private armed: ((dropped: DroppedReply) => void) | null = null;
  /** Bytes clients sent into connections frozen by `freezeOpen()`, all dropped. */
  droppedUp = 0;
  private server!: Server;
  port = 0;

  private constructor(private readonly target: { host: string; port: number }) {}

  static async start(targetPort: number, host = '127.0.0.1'): Promise<RedisTcpProxy> {
    const proxy = new RedisTcpProxy({ host, port: targetPort });
    proxy.server = createServer((client) => proxy.accept(client));
    await new Promise<void>((resolve, reject) => {
      proxy.server.once('error', reject);
      proxy.server.listen(0, '127.0.0.1', () => resolve());
    });
    proxy.port = (proxy.server.address() as AddressInfo).port;
    return proxy;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Number of client connections currently open through the proxy. */
  get connections(): number {
    return this.pairs.size;
  }

  partition(): void {
    this.partitioned = true;
  }

  heal(): void {
    this.partitioned = false;
    for (const pair of this.pairs) {
      if (!pair.server.connecting && pair.server.readyState === 'closed') {
        // Accepted while partitioned: connect it now.
        this.connectUpstream(pair);
      }
      for (const chunk of pair.held.up.splice(0)) pair.server.write(chunk);
      for (const chunk of pair.held.down.splice(0)) pair.client.write(chunk);
    }
  }

  freezeOpen(): void {
    for (const pair of this.pairs) {
      pair.frozen = true;
      pair.held.up.length = 0;
      pair.held.down.length = 0;
    }
  }

  /** Resolves when the next successful acquire reply has been dropped. */
  dropNextAcquireReply(): Promise<DroppedReply> {
    return new Promise((resolve) => {
      this.armed = resolve;
    });
  }

  async close(): Promise<void> {
    for (const pair of this.pairs) {
      pair.client.destroy();
      pair.server.destroy();
    }
    this.pairs.clear();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: Socket): void {
    const pair: Pair = {
      client,
      server: new Socket(),
      held: { up: [], down: [] },
      frozen: false,
    };
    this.pairs.add(pair);
    const end = (): void => {
      this.pairs.delete(pair);
      client.destroy();
      pair.server.destroy();
    };
    client.on('error', end);
    client.on('close', end);
    pair.server.on('error', end);
    pair.server.on('close', end);
    client.on('data', (chunk: Buffer) => {
      if (pair.frozen) {
        this.droppedUp += chunk.length;
      } else if (this.partitioned || pair.server.connecting || pair.server.readyState !== 'open') {
        pair.held.up.push(chunk);
      } else {
        pair.server.write(chunk);
      }
    });
    pair.server.on('data', (chunk: Buffer) => this.downstream(pair, chunk));
    if (!this.partitioned) this.connectUpstream(pair);
  }

  private connectUpstream(pair: Pair): void {
    pair.server.connect(this.target.port, this.target.host, () => {
      if (this.partitioned) return;
      for (const chunk of pair.held.up.splice(0)) pair.server.write(chunk);
    });
  }

  private downstream(pair: Pair, chunk: Buffer): void {
    if (pair.frozen) {
      return;
    }
    if (this.partitioned) {
      pair.held.down.push(chunk);
      return;
    }
    if (this.armed) {
      const at = chunk.toString('latin1').search(ACQUIRED_REPLY);
      if (at >= 0) {
        const resolve = this.armed;
        this.armed = null;
        // Stamped before the reset: the client may see the reset, fail and record that before
        // this process runs again (another core, or this one preempted under load), and the
        // scenario compares those records with this instant.
        const mono = monoNow();
        // Deliver the replies before it, then lose it and reset the client's connection.
        if (at > 0) pair.client.write(chunk.subarray(0, at));
        pair.client.resetAndDestroy();
        pair.server.destroy();
        resolve({ mono });
        return;
      }
    }
    pair.client.write(chunk);
  }
}
