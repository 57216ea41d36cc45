// A TCP proxy in front of a store that forwards its first connections and accepts the later ones
// without ever forwarding a byte: a server that takes connections but stops answering (frozen,
// or cut off by a partition that keeps the port open).
import { createServer, Socket, type AddressInfo, type Server } from 'node:net';

export interface SilentProxy {
  readonly port: number;
  close(): Promise<void>;
}

/** Forwards the first `forwarded` connections to `targetPort` on 127.0.0.1; holds the rest. */
export async function startSilentProxy(
  targetPort: number,
  forwarded: number,
): Promise<SilentProxy> {
  const sockets = new Set<Socket>();
  let accepted = 0;
  const server: Server = createServer((client) => {
    accepted += 1;
    sockets.add(client);
    client.on('error', () => client.destroy());
    client.on('close', () => sockets.delete(client));
    if (accepted > forwarded) {
      // Read and dropped: the client sees a connection that never answers.
      client.resume();
      return;
    }
    const upstream = new Socket();
    sockets.add(upstream);
    upstream.on('error', () => client.destroy());
    upstream.on('close', () => {
      sockets.delete(upstream);
      client.destroy();
    });
    client.on('close', () => upstream.destroy());
    upstream.connect(targetPort, '127.0.0.1');
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: async () => {
      for (const socket of sockets) {
        socket.destroy();
      }
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
