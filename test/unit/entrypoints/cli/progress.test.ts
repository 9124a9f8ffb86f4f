import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { elapsed, Progress, type ProgressOptions, progressOf } from '../../../../lambdas/entrypoints/cli/progress.ts';

/** A stream, a clock and a redraw timer the test drives: nothing here waits for real time. */
function harness(options: { isTTY: boolean; columns?: number; env?: Record<string, string> }) {
  const chunks: string[] = [];
  let clock = 1_000_000;
  let redraw: (() => void) | undefined;
  let timers = 0;
  const opts: ProgressOptions = {
    stream: { write: (chunk: string) => chunks.push(chunk), isTTY: options.isTTY, columns: options.columns },
    env: options.env ?? {},
    now: () => clock,
    every: (fn) => {
      timers++;
      redraw = fn;
      return () => {
        redraw = undefined;
      };
    },
  };
  return {
    opts,
    chunks,
    text: () => chunks.join(''),
    advance(ms: number) {
      clock += ms;
    },
    tick() {
      redraw?.();
    },
    running: () => redraw !== undefined,
    timers: () => timers,
  };
}

/** What a terminal shows: each `\r` + clear-line starts the line over. */
function screen(text: string): string[] {
  return text.split('\n').map((line) => line.split('\r\x1b[2K').at(-1)!);
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: the test is about control characters.
const CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f]/;

describe('Class: Progress', () => {
  describe('off a terminal', () => {
    it('writes a plain line only when the state changes, and a final line with the time taken', () => {
      const h = harness({ isTTY: false });
      const progress = new Progress('rotating prod/db', h.opts);
      progress.step('createSecret');
      h.advance(700);
      progress.step('createSecret');
      progress.step('setSecret');
      progress.step('setSecret');
      progress.step('testSecret');
      h.advance(1500);
      progress.step('finishSecret');
      progress.done('succeeded');
      expect(h.text().split('\n')).toEqual([
        'rotating prod/db...',
        'rotating prod/db: createSecret',
        'rotating prod/db: setSecret',
        'rotating prod/db: testSecret',
        'rotating prod/db: finishSecret',
        'rotating prod/db: succeeded (2.2s)',
        '',
      ]);
    });

    it('never writes a control character or starts a redraw timer', () => {
      const h = harness({ isTTY: false });
      const progress = new Progress('revoking', h.opts);
      progress.count(1, 3).count(2, 3).count(2, 3);
      progress.fail();
      expect(h.text()).not.toMatch(CONTROL);
      expect(h.timers()).toBe(0);
      expect(h.text().split('\n')).toEqual([
        'revoking...',
        'revoking: 1/3',
        'revoking: 2/3',
        'revoking: failed (0.0s)',
        '',
      ]);
    });

    it('names the step rather than its counts, and starts with the first step when given one', () => {
      const h = harness({ isTTY: false });
      const progress = new Progress('rotating prod/db', { ...h.opts, step: 'rotation r-1 started' });
      progress.step('createSecret', { done: 0, total: 4 });
      progress.count(1, 4);
      progress.step('setSecret', { done: 1, total: 4 });
      expect(h.text().split('\n')).toEqual([
        'rotating prod/db: rotation r-1 started',
        'rotating prod/db: createSecret',
        'rotating prod/db: setSecret',
        '',
      ]);
    });

    it('treats TERM=dumb as no terminal: plain lines, no escape sequences', () => {
      const h = harness({ isTTY: true, env: { TERM: 'dumb' } });
      const progress = new Progress('rotating the root key', h.opts);
      h.advance(3200);
      progress.done('5 data keys re-wrapped');
      expect(h.text()).toBe('rotating the root key...\nrotating the root key: 5 data keys re-wrapped (3.2s)\n');
      expect(h.timers()).toBe(0);
    });
  });

  describe('on a terminal', () => {
    it('redraws one line with a spinner, the step and the elapsed seconds, then leaves a final line', () => {
      const h = harness({ isTTY: true });
      const progress = new Progress('rotating prod/db', h.opts);
      progress.step('createSecret');
      h.advance(1000);
      h.tick();
      progress.step('setSecret');
      h.advance(1400);
      h.tick();
      progress.done('succeeded');
      const frames = h
        .text()
        .split('\r\x1b[2K')
        .filter((frame) => frame !== '');
      expect(frames).toEqual([
        '⠋ rotating prod/db 0s',
        '⠋ rotating prod/db createSecret 0s',
        '⠙ rotating prod/db createSecret 1s',
        '⠙ rotating prod/db setSecret 1s',
        '⠹ rotating prod/db setSecret 2s',
        '\x1b[32m✓\x1b[0m rotating prod/db: succeeded (2.4s)\n',
      ]);
      // Every redraw returns to the start of the same line: one line is left on the screen.
      expect(screen(h.text())).toEqual(['\x1b[32m✓\x1b[0m rotating prod/db: succeeded (2.4s)', '']);
      expect(h.running()).toBe(false);
    });

    it('draws a bar with counts and a percentage when the total is known', () => {
      const h = harness({ isTTY: true });
      const progress = new Progress('rotating prod/db', h.opts);
      progress.step('setSecret', { done: 1, total: 4 });
      expect(screen(h.text()).at(-1)).toBe('rotating prod/db [█████░░░░░░░░░░░░░░░] 1/4 25% setSecret 0s');
      progress.count(4, 4);
      expect(screen(h.text()).at(-1)).toBe('rotating prod/db [████████████████████] 4/4 100% setSecret 0s');
    });

    it('keeps the spinner turning between updates while the command awaits one request', () => {
      const h = harness({ isTTY: true });
      new Progress('revoking leases under db/', h.opts);
      for (let i = 0; i < 3; i++) {
        h.advance(100);
        h.tick();
      }
      expect(screen(h.text()).at(-1)).toBe('⠸ revoking leases under db/ 0s');
      h.advance(65_000);
      h.tick();
      expect(screen(h.text()).at(-1)).toBe('⠼ revoking leases under db/ 1m 05s');
    });

    it('cuts the line to the terminal width, so a redraw never wraps', () => {
      const h = harness({ isTTY: true, columns: 20 });
      new Progress('rotating a/very/long/secret/name', h.opts);
      const line = screen(h.text()).at(-1)!;
      expect([...line]).toHaveLength(19);
      expect(line).toBe('⠋ rotating a/very/…');
    });

    it('drops the colour of the final mark under NO_COLOR', () => {
      const h = harness({ isTTY: true, env: { NO_COLOR: '1' } });
      new Progress('rotating prod/db', h.opts).fail();
      expect(screen(h.text())).toEqual(['✗ rotating prod/db: failed (0.0s)', '']);
      expect(h.text()).not.toContain('\x1b[3');
    });
  });

  it('writes nothing when quiet, on a terminal or off it', () => {
    for (const isTTY of [true, false]) {
      const h = harness({ isTTY });
      const progress = new Progress('rotating prod/db', { ...h.opts, quiet: true });
      progress.step('setSecret').count(1, 4).done();
      expect(h.text()).toBe('');
      expect(h.timers()).toBe(0);
    }
  });

  it('ends once: a later step, count or end writes nothing', () => {
    const h = harness({ isTTY: false });
    const progress = new Progress('x', h.opts);
    progress.done();
    const after = h.text();
    progress.step('late');
    progress.fail();
    expect(h.text()).toBe(after);
  });

  describe('run', () => {
    it('ends with the summary of the result', async () => {
      const h = harness({ isTTY: false });
      const out = await new Progress('revoking', h.opts).run(
        async () => 3,
        (n) => `${n} revoked`,
      );
      expect(out).toBe(3);
      expect(h.text()).toBe('revoking...\nrevoking: 3 revoked (0.0s)\n');
    });

    it('ends the line as failed and rethrows, so the error is printed on a line of its own', async () => {
      const h = harness({ isTTY: true });
      await expect(
        new Progress('revoking', h.opts).run(async () => {
          throw new Error('boom');
        }),
      ).rejects.toThrow('boom');
      expect(h.text().endsWith('\n')).toBe(true);
      expect(h.running()).toBe(false);
    });
  });
});

describe('Function: progressOf', () => {
  it('is silenced by the global --quiet', () => {
    const program = new Command('coffer').option('-q, --quiet');
    const leaf = program.command('leaf');
    program.parse(['--quiet', 'leaf'], { from: 'user' });
    const h = harness({ isTTY: false });
    progressOf(leaf, 'x', h.opts).done();
    expect(h.text()).toBe('');
  });

  it('writes when --quiet is not given', () => {
    const program = new Command('coffer').option('-q, --quiet');
    const leaf = program.command('leaf');
    program.parse(['leaf'], { from: 'user' });
    const h = harness({ isTTY: false });
    progressOf(leaf, 'x', h.opts).done();
    expect(h.text()).toBe('x...\nx: done (0.0s)\n');
  });
});

describe('Function: elapsed', () => {
  it('counts whole seconds while running and tenths at the end', () => {
    expect(elapsed(2_950)).toBe('2s');
    expect(elapsed(2_950, true)).toBe('3.0s');
    expect(elapsed(125_000)).toBe('2m 05s');
  });
});
