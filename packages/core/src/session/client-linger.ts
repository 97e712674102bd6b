import type { Socket } from 'node:net';

/**
 * How long a closing session waits, once its last reply is written, for the client to take it and
 * close its side, before both sockets are destroyed: nothing stays half-open longer.
 */
export const CLOSE_GRACE_MS = 2000;

/**
 * Closes a client socket leaving nothing half-open: our FIN goes out at once; the socket goes once
 * the client's FIN is in as well, reading (and dropping) whatever it still sends — closing with
 * unread bytes would reset the connection and could cost the client the last reply. A client that
 * does not close within `CLOSE_GRACE_MS` (does not read, keeps sending) is destroyed.
 */
export class ClientLinger {
  /** The client sent its FIN ('end'). */
  ended = false;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly client: Socket,
    /** Destroys both sockets. */
    private readonly destroy: () => void,
  ) {}

  begin(): void {
    const c = this.client;
    c.end();
    c.once('finish', () => this.check());
    this.check();
    this.timer = setTimeout(this.destroy, CLOSE_GRACE_MS);
    this.timer.unref();
  }

  /** Both FINs exchanged (or the client left): the client socket can go. */
  check(): void {
    if (this.ended && this.client.writableFinished) this.destroy();
  }

  /** The sockets are going: no timer left behind. */
  cancel(): void {
    if (this.timer !== null) clearTimeout(this.timer);
  }
}
