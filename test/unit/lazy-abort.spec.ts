import { once } from 'node:events';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { LazyAbortController } from '../../lib/utils/lazy-abort.js';
import { waitFor } from '../support/redis.js';

describe('LazyAbortController', () => {
  it('gives a live signal that aborts with the reason, firing its listeners once', () => {
    const controller = new LazyAbortController();
    const signal = controller.signal;
    const reasons: unknown[] = [];
    signal.addEventListener('abort', () => reasons.push(signal.reason));
    expect(signal.aborted).toBe(false);
    const reason = new Error('lost');
    controller.abort(reason);
    controller.abort(new Error('second'));
    expect(signal.aborted).toBe(true);
    expect(signal.reason).toBe(reason);
    expect(reasons).toEqual([reason]);
    expect(controller.signal).toBe(signal);
  });

  it('remembers an abort that came before the signal was first read', () => {
    const controller = new LazyAbortController();
    const reason = new Error('lost before anyone looked');
    controller.abort(reason);
    controller.abort(new Error('second'));
    const signal = controller.signal;
    expect(signal.aborted).toBe(true);
    expect(signal.reason).toBe(reason);
    expect(() => signal.throwIfAborted()).toThrow(reason);
  });

  it('uses the standard AbortError reason when aborted without one', () => {
    const early = new LazyAbortController();
    early.abort(undefined);
    const late = new LazyAbortController();
    const signal = late.signal;
    late.abort(undefined);
    for (const aborted of [early.signal, signal]) {
      expect(aborted.aborted).toBe(true);
      expect((aborted.reason as Error).name).toBe('AbortError');
    }
  });

  it('tells whether it was aborted without creating the signal, before and after a read', () => {
    const early = new LazyAbortController();
    expect(early.aborted).toBe(false);
    early.abort(new Error('stop'));
    expect(early.aborted).toBe(true);
    const late = new LazyAbortController();
    expect(late.signal.aborted).toBe(false);
    late.abort(new Error('stop'));
    expect(late.aborted).toBe(true);
  });
});

describe('LazyAbortController with onListenerError (the signal a run hands its job)', () => {
  /** A controller whose listener errors are collected, and its signal. */
  function guarded(): { controller: LazyAbortController; signal: AbortSignal; errors: unknown[] } {
    const errors: unknown[] = [];
    const controller = new LazyAbortController((error) => errors.push(error));
    return { controller, signal: controller.signal, errors };
  }

  /** Lets the turns pass on which Node would rethrow a listener's error, or report a rejection. */
  async function nextTurns(count = 3): Promise<void> {
    for (let turn = 0; turn < count; turn++) {
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  it('hands what any kind of listener throws to onListenerError, once per error', async () => {
    const { controller, signal, errors } = guarded();
    const thrown = [new Error('listener'), new Error('onabort'), new Error('handleEvent')];
    const rejected = new Error('async listener');
    const heard: string[] = [];
    signal.addEventListener('abort', () => {
      throw thrown[0];
    });
    signal.onabort = () => {
      throw thrown[1];
    };
    signal.addEventListener('abort', {
      handleEvent() {
        throw thrown[2];
      },
    });
    signal.addEventListener('abort', async () => {
      throw rejected;
    });
    // The same abort reason rethrown by two listeners: reported once.
    signal.addEventListener('abort', () => {
      throw signal.reason;
    });
    signal.addEventListener('abort', () => {
      throw signal.reason;
    });
    // Listeners after a throwing one still run.
    signal.addEventListener('abort', function (this: unknown, event) {
      heard.push(`${this === signal} ${event.type}`);
    });
    const reason = new Error('lost');

    controller.abort(reason);
    await nextTurns();

    expect(errors).toEqual([...thrown, reason, rejected]);
    expect(heard).toEqual(['true abort']);
  });

  it('is a genuine AbortSignal: reason, throwIfAborted, AbortSignal.any, timers', async () => {
    const { controller, signal } = guarded();
    expect(signal).toBeInstanceOf(AbortSignal);
    expect(Object.prototype.toString.call(signal)).toBe('[object AbortSignal]');
    const any = AbortSignal.any([signal]);
    const sleeping = sleep(60_000, undefined, { signal }).catch((error: unknown) => error);
    const reason = new Error('lost');

    controller.abort(reason);

    expect(signal.aborted).toBe(true);
    expect(signal.reason).toBe(reason);
    expect(() => signal.throwIfAborted()).toThrow(reason);
    expect(any.aborted).toBe(true);
    expect(any.reason).toBe(reason);
    expect(await sleeping).toMatchObject({ name: 'AbortError', cause: reason });
  });

  it('aborts a fetch in flight with its reason', async () => {
    const { controller, signal } = guarded();
    const requests: IncomingMessage[] = [];
    // A server that never answers: only the abort ends the request.
    const server = createServer((request) => requests.push(request));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const { port } = server.address() as AddressInfo;
      const request = fetch(`http://127.0.0.1:${port}/`, { signal }).catch(
        (error: unknown) => error,
      );
      await waitFor(() => requests.length === 1, { message: 'the request to arrive' });
      const reason = new Error('lost');

      controller.abort(reason);

      expect(await request).toBe(reason);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });

  it('removes a listener that was added, function or handleEvent object, and keeps options', () => {
    const { signal } = guarded();
    const calls: string[] = [];
    const removed = (): number => calls.push('removed');
    const removedObject = { handleEvent: () => calls.push('removed object') };
    const twice = (): number => calls.push('added twice');
    const captured = (): number => calls.push('captured');
    const once = (): number => calls.push('once');
    const cancel = new AbortController();
    const cancelled = (): number => calls.push('cancelled');
    signal.addEventListener('ping', removed);
    signal.addEventListener('ping', removedObject);
    signal.addEventListener('ping', twice);
    signal.addEventListener('ping', twice);
    signal.addEventListener('ping', captured, { capture: true });
    signal.addEventListener('ping', once, { once: true });
    signal.addEventListener('ping', cancelled, { signal: cancel.signal });
    signal.removeEventListener('ping', removed);
    signal.removeEventListener('ping', removedObject);
    // Registered with capture: removing without it removes nothing, as on any EventTarget.
    signal.removeEventListener('ping', captured);
    cancel.abort();

    signal.dispatchEvent(new Event('ping'));
    signal.dispatchEvent(new Event('ping'));

    expect(calls).toEqual(['added twice', 'captured', 'once', 'added twice', 'captured']);
  });

  it('reads onabort back as set, and stops calling it once cleared', () => {
    const { controller, signal } = guarded();
    const calls: string[] = [];
    const first = (): number => calls.push('first');
    const second = (): number => calls.push('second');
    expect(signal.onabort).toBeNull();
    signal.onabort = first;
    expect(signal.onabort).toBe(first);
    signal.onabort = second;
    expect(signal.onabort).toBe(second);
    signal.onabort = null;
    expect(signal.onabort).toBeNull();
    signal.onabort = first;

    controller.abort(new Error('lost'));

    expect(calls).toEqual(['first']);
  });

  it('refuses what Node refuses: a listener that is neither a function nor an object', () => {
    const { signal } = guarded();
    expect(() => signal.addEventListener('abort', 42 as unknown as () => void)).toThrow(TypeError);
  });
});
