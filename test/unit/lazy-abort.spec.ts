import { describe, expect, it } from 'vitest';
import { LazyAbortController } from '../../lib/utils/lazy-abort.js';

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
