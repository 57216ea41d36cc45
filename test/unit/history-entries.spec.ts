import { describe, expect, it } from 'vitest';
import {
  entryText,
  occurrenceEntry,
  parseEntry,
  releaseEntries,
  releaseEntryTexts,
} from '../../lib/stores/history-entries.js';
import type { HistoryEntry, RunOutcome } from '../../lib/stores/lock-store.interface.js';

const AT = Date.UTC(2025, 0, 15, 10, 0, 0);

function outcome(error: string | null): RunOutcome {
  return {
    status: error === null ? 'completed' : 'failed',
    durationMs: 12.4,
    finishedAt: AT + 30,
    run: {
      scheduledAt: AT,
      startedAt: AT + 17.6,
      fencingToken: 1_736_935_200_000_123,
      instanceId: 'instance-a',
      trigger: 'schedule',
      outcome: error === null ? 'completed' : 'failed',
      error,
    },
  };
}

describe('history entries as stored', () => {
  it('reads back every entry a release writes, field for field', () => {
    const entries = releaseEntries(outcome('Error: boom'), [AT - 120_000, AT - 60_000], AT + 40);
    expect(entries.map((entry) => parseEntry(entryText(entry)))).toEqual(entries);
    expect(entries.map((entry) => entry.kind)).toEqual(['missed', 'missed', 'run']);
  });

  it('leaves out null fields and writes valid JSON in the fields order', () => {
    expect(entryText(occurrenceEntry('paused', AT, 'instance-b', AT + 5))).toBe(
      `{"kind":"paused","scheduledAt":${AT},"finishedAt":${AT + 5},"instanceId":"instance-b"}`,
    );
    const [run] = releaseEntries(outcome(null), undefined, AT + 40);
    expect(Object.keys(JSON.parse(entryText(run)) as object)).toEqual([
      'kind',
      'scheduledAt',
      'startedAt',
      'finishedAt',
      'durationMs',
      'instanceId',
      'fencingToken',
      'trigger',
      'outcome',
    ]);
  });

  it('escapes what an instance id or an error message may hold', () => {
    const text = 'quote " backslash \\ newline \n line separator \u2028 </script> <img src=x>';
    const entry: HistoryEntry = {
      ...occurrenceEntry('merged', AT, text, AT),
      error: text,
    };
    const read = parseEntry(entryText(entry));
    expect(read?.instanceId).toBe(text);
    expect(read?.error).toBe(text);
  });

  it('writes a number JSON cannot hold as absent, read back as null', () => {
    const entry: HistoryEntry = { ...occurrenceEntry('missed', AT, null, AT), durationMs: NaN };
    const text = entryText(entry);
    expect(() => JSON.parse(text) as unknown).not.toThrow();
    expect(parseEntry(text)?.durationMs).toBeNull();
  });

  it('writes the texts of the entries a release records, with or without missed occurrences', () => {
    const expected = (run: RunOutcome, missed?: number[]) =>
      releaseEntries(run, missed, AT + 40).map(entryText);
    const cases: RunOutcome[] = [outcome(null), outcome('Error: "boom" \u00e9 \n')];
    // More instance ids, triggers and errors than the texts kept for repeated values, twice over,
    // so that a value comes back after it was dropped.
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 12; i++) {
        const error = i % 2 === 0 ? null : `Error: run ${i} "failed"`;
        cases.push({
          status: error === null ? 'completed' : 'failed',
          durationMs: i === 3 ? NaN : 12.4 + i,
          finishedAt: AT + 30 + i,
          run: {
            scheduledAt: i === 5 ? null : AT + i,
            startedAt: AT + 17.6,
            fencingToken: 1_736_935_200_000_123 + i,
            instanceId: `instance-${i} "quoted" \u2028`,
            trigger: i % 3 === 0 ? 'catch-up' : i % 3 === 1 ? 'manual' : 'schedule',
            outcome: i % 4 === 0 ? 'lost' : error === null ? 'completed' : 'failed',
            error,
          },
        });
      }
    }
    for (const run of cases) {
      expect(releaseEntryTexts(run, undefined)).toEqual(expected(run));
      expect(releaseEntryTexts(run, [])).toEqual(expected(run));
      // Read back, not only compared with entryText, which shares the remembered quoted texts.
      const read = parseEntry(releaseEntryTexts(run, undefined)[0]);
      expect(read).toMatchObject({
        instanceId: run.run?.instanceId,
        trigger: run.run?.trigger,
        outcome: run.run?.outcome,
        error: run.run?.error,
      });
    }
    const missed = releaseEntryTexts(outcome(null), [AT - 120_000, AT - 60_000]);
    expect(missed.map((text) => parseEntry(text)?.kind)).toEqual(['missed', 'missed', 'run']);
    expect(missed.slice(2)).toEqual(expected(outcome(null)));
    expect(releaseEntryTexts(undefined, [AT])).toEqual([]);
  });
});
