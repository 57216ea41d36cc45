import { expect } from 'vitest';
import {
  describeLockStoreContract,
  type ContractTestApi,
  type LockStoreFixture,
} from 'nestjs-cron-lock/testing';

type Body = () => Promise<void>;

interface Suite {
  parent: Suite | undefined;
  before: Body[];
  after: Body[];
}

/** One case of the shipped LockStore contract, collected rather than registered with Vitest. */
export interface ContractCase {
  /** The describe titles and the case's own, joined by ' > '. */
  title: string;
  /** Runs the case with its hooks, as a test runner would; resolves to what it threw, if anything. */
  run(): Promise<unknown>;
  /** The timeout the suite asked the runner for (ms), if any: without one, the runner's default. */
  timeout: number | undefined;
}

/**
 * The cases the shipped contract suite declares for the store `factory` builds. A spec can then
 * run one case against a deliberately broken store and check that the contract catches it: a
 * case that passes for a broken store proves nothing for a user's own store.
 */
export function collectContractCases(factory: () => Promise<LockStoreFixture>): ContractCase[] {
  const cases: ContractCase[] = [];
  const titles: string[] = [];
  let current: Suite = { parent: undefined, before: [], after: [] };

  const api: ContractTestApi = {
    describe(name, body) {
      const parent = current;
      current = { parent, before: [], after: [] };
      titles.push(name);
      body();
      titles.pop();
      current = parent;
    },
    it(name, body, timeout) {
      const suite = current;
      cases.push({
        title: [...titles, name].join(' > '),
        run: () => runCase(suite, body),
        timeout,
      });
    },
    beforeEach(body) {
      current.before.push(body);
    },
    afterEach(body) {
      current.after.push(body);
    },
    expect,
  };
  describeLockStoreContract('store', factory, api);
  return cases;
}

/** The one case whose title contains `title`; throws when none or several match. */
export function contractCase(cases: ContractCase[], title: string): ContractCase {
  const found = cases.filter((candidate) => candidate.title.includes(title));
  if (found.length !== 1) {
    throw new Error(`${found.length} contract cases match ${JSON.stringify(title)}`);
  }
  return found[0]!;
}

async function runCase(suite: Suite, body: Body): Promise<unknown> {
  const chain: Suite[] = [];
  for (let at: Suite | undefined = suite; at; at = at.parent) {
    chain.unshift(at);
  }
  let failure: unknown;
  try {
    for (const hook of chain.flatMap((level) => level.before)) {
      await hook();
    }
    await body();
  } catch (error) {
    failure = error;
  }
  // afterEach runs even when the case failed, innermost first, as in Vitest and Jest.
  for (const hook of [...chain].reverse().flatMap((level) => level.after)) {
    try {
      await hook();
    } catch (error) {
      failure ??= error;
    }
  }
  return failure;
}
