// The PostgreSQL schema's functions carry a version number that the schema check compares: a
// store replaces functions of a lower version and runs on those of its own or a higher one. So
// any change to their SQL must raise FUNCTIONS_VERSION, or instances of two builds would each
// take the other's functions for their own.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  FUNCTIONS_VERSION,
  functionsMark,
  functionsSource,
} from '../../lib/stores/postgres/functions.js';

/** The SQL of the functions at FUNCTIONS_VERSION. */
const PINNED = {
  version: 3,
  sha256: '2b889a9ebacfbf8d144a0a342b73927831115f8a074985273473c1d25feffa00',
};

describe("the PostgreSQL functions' version", () => {
  it('is raised with every change to their SQL (then pin the new version and digest here)', () => {
    const digest = createHash('sha256').update(functionsSource()).digest('hex');
    expect({ version: FUNCTIONS_VERSION, sha256: digest }).toEqual(PINNED);
  });

  it('is what their comments hold, in the form the schema check reads', () => {
    expect(functionsMark()).toMatch(
      new RegExp(`^nestjs-cron-lock functions v${FUNCTIONS_VERSION}$`),
    );
  });
});
