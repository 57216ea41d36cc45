// @LockedCron and @CronLock go on instance methods, the only members @nestjs/schedule schedules
// and the module binds. Anything else fails when the class is defined, naming it and the fix.
import { describe, expect, it } from 'vitest';
import { CronLock, CronLockConfigError, LockedCron } from 'nestjs-cron-lock';

class Jobs {
  static work(): void {}
  get value(): number {
    return 1;
  }
  set value(_next: number) {}
  method(): void {}
}

const decorators: Array<[string, () => MethodDecorator]> = [
  ['@LockedCron', () => LockedCron('0 * * * *')],
  ['@CronLock', () => CronLock()],
];

describe.each(decorators)('%s on a member that is not an instance method', (_name, decorator) => {
  it.each<[string, object, string, string]>([
    ['a getter and setter', Jobs.prototype, 'value', 'Jobs.value'],
    ['a static method', Jobs, 'work', 'Jobs.work'],
  ])('refuses %s with a CronLockConfigError naming it and the fix', (_what, target, key, label) => {
    const descriptor = Object.getOwnPropertyDescriptor(target, key)!;
    let thrown: unknown;
    try {
      decorator()(target, key, descriptor);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(CronLockConfigError);
    expect((thrown as Error).message).toMatch(new RegExp(`^${label.replace('.', '\\.')}: .*Fix: `));
  });

  it('refuses a method with a symbol key, which Nest never scans, naming it and the fix', () => {
    // Nest's MetadataScanner lists string keys only: such a job was never scheduled nor bound,
    // app.init() passed, and a direct call blamed a missing CronLockModule.
    const tick = Symbol('tick');
    const target = { [tick]: () => undefined };
    const descriptor = Object.getOwnPropertyDescriptor(target, tick)!;
    let thrown: unknown;
    try {
      decorator()(Jobs.prototype, tick, descriptor);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(CronLockConfigError);
    const message = (thrown as Error).message;
    expect(message).toMatch(/^Jobs\.Symbol\(tick\): .*symbol key/);
    expect(message).toContain('Fix: give the method a string name');
  });

  it('decorates an instance method', () => {
    const descriptor = Object.getOwnPropertyDescriptor(Jobs.prototype, 'method')!;
    const decorated = decorator()(Jobs.prototype, 'method', descriptor) as PropertyDescriptor;
    expect(typeof decorated.value).toBe('function');
    expect(decorated.value).not.toBe(descriptor.value);
  });
});
