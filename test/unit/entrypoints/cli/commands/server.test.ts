import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { onShutdownSignals, type ShutdownProcess } from '../../../../../lambdas/entrypoints/cli/commands/server.ts';

/** A process whose signals the test raises, whose output it reads and whose exit it records. */
function fakeProcess() {
  const signals = new EventEmitter();
  const written: string[] = [];
  const exits: number[] = [];
  const proc: ShutdownProcess = {
    on: (signal, listener) => signals.on(signal, listener),
    off: (signal, listener) => signals.off(signal, listener),
    write: (line, then) => {
      written.push(line);
      then?.();
    },
    exit: (code) => exits.push(code),
  };
  return { proc, signals, written, exits };
}

/** A server whose stop the test finishes (or fails) when it chooses. */
function fakeServer() {
  let settle: { resolve: () => void; reject: (err: Error) => void } | undefined;
  let stops = 0;
  return {
    server: {
      stop: () => {
        stops++;
        return new Promise<void>((resolve, reject) => (settle = { resolve, reject }));
      },
    },
    stops: () => stops,
    finish: () => settle?.resolve(),
    break: () => settle?.reject(new Error('close failed')),
  };
}

const settled = () => new Promise((resolve) => setImmediate(resolve));

describe('Function: onShutdownSignals', () => {
  it('finishes in-flight requests on SIGTERM, says so, and exits 0 only once the server has stopped', async () => {
    const { proc, signals, written, exits } = fakeProcess();
    const running = fakeServer();
    onShutdownSignals(proc).started(running.server);
    signals.emit('SIGTERM');
    expect(written).toEqual(['SIGTERM: finishing in-flight requests\n']);
    await settled();
    expect(exits).toEqual([]);
    running.finish();
    await settled();
    expect(written.at(-1)).toBe('Coffer stopped\n');
    expect(exits).toEqual([0]);
  });

  it('handles a signal that comes while the server is still starting: it stops once started', async () => {
    const { proc, signals, written, exits } = fakeProcess();
    const shutdown = onShutdownSignals(proc);
    // The handler is there before the start: Node's default for an unhandled SIGINT/SIGTERM is to die by the signal.
    expect(signals.listenerCount('SIGINT')).toBe(1);
    expect(signals.listenerCount('SIGTERM')).toBe(1);
    signals.emit('SIGINT');
    const running = fakeServer();
    expect(running.stops()).toBe(0);
    shutdown.started(running.server);
    expect(running.stops()).toBe(1);
    running.finish();
    await settled();
    expect(written).toEqual(['SIGINT: finishing in-flight requests\n', 'Coffer stopped\n']);
    expect(exits).toEqual([0]);
  });

  it('ignores a repeated signal while finishing, rather than dying by it', async () => {
    const { proc, signals, written, exits } = fakeProcess();
    const running = fakeServer();
    onShutdownSignals(proc).started(running.server);
    signals.emit('SIGTERM');
    signals.emit('SIGTERM');
    signals.emit('SIGINT');
    expect(running.stops()).toBe(1);
    expect(signals.listenerCount('SIGTERM')).toBe(1);
    running.finish();
    await settled();
    expect(written).toEqual([
      'SIGTERM: finishing in-flight requests\n',
      'SIGTERM: already finishing in-flight requests\n',
      'SIGINT: already finishing in-flight requests\n',
      'Coffer stopped\n',
    ]);
    expect(exits).toEqual([0]);
  });

  it('exits 1 when the store or the audit log fails to close', async () => {
    const { proc, signals, written, exits } = fakeProcess();
    const running = fakeServer();
    onShutdownSignals(proc).started(running.server);
    signals.emit('SIGTERM');
    running.break();
    await settled();
    expect(written.at(-1)).toBe('Coffer stopped with errors\n');
    expect(exits).toEqual([1]);
  });

  it('removes its handlers when the start fails, so the error exits as usual', () => {
    const { proc, signals } = fakeProcess();
    onShutdownSignals(proc).abandon();
    expect(signals.listenerCount('SIGINT')).toBe(0);
    expect(signals.listenerCount('SIGTERM')).toBe(0);
  });
});
