/**
 * The entry point: a handle bound to one network namespace, grouping the operations by object
 * (`nl.links`, `nl.addresses`, `nl.routes`, `nl.neighbours`, `nl.fdb`). Open it with
 * `openNetlink(path)` and close it when done, or let `withNetlink` do both.
 */
import { Addresses } from './addresses';
import { NetlinkConnection } from './connection';
import { Links } from './links';
import { Fdb, Neighbours } from './neighbours';
import { Routes } from './routes';

export class NetlinkHandle {
  readonly links: Links;
  readonly addresses: Addresses;
  readonly routes: Routes;
  readonly neighbours: Neighbours;
  readonly fdb: Fdb;

  constructor(private readonly conn: NetlinkConnection) {
    this.links = new Links(conn);
    this.addresses = new Addresses(conn, this.links);
    this.routes = new Routes(conn, this.links);
    this.neighbours = new Neighbours(conn, this.links);
    this.fdb = new Fdb(conn, this.links);
  }

  /** The namespace path the handle talks to ("current" for the process's own). */
  get netns(): string {
    return this.conn.netns;
  }

  get closed(): boolean {
    return this.conn.closed;
  }

  /** Releases the socket; pending and later requests fail with NetlinkClosedError. Idempotent. */
  close(): void {
    this.conn.close();
  }
}

/**
 * Opens a handle on the namespace at `netnsPath` (the socket is created inside it and stays
 * bound to it), or on the process's own namespace when no path is given.
 */
export async function openNetlink(netnsPath?: string): Promise<NetlinkHandle> {
  return new NetlinkHandle(NetlinkConnection.open(netnsPath));
}

/** Runs `fn` with a handle on the namespace and closes it afterwards, also when `fn` throws. */
export async function withNetlink<T>(netnsPath: string | undefined, fn: (nl: NetlinkHandle) => Promise<T>): Promise<T> {
  const nl = await openNetlink(netnsPath);
  try {
    return await fn(nl);
  } finally {
    nl.close();
  }
}
