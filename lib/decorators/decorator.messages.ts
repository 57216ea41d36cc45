/**
 * `member`: `Class.member`; `kind`: what it is instead of an instance method. Thrown as the class
 * is defined: `@nestjs/schedule` schedules instance methods only, and the module binds nothing else.
 */
export const NOT_AN_INSTANCE_METHOD = (decorator: string, member: string, kind: string): string =>
  `${member}: ${decorator} decorates instance methods only, and this is ${kind}, which would ` +
  `never be scheduled or locked. Fix: move the decorator to an instance method of a provider ` +
  `(for a static method, an instance method that calls it).`;
