/** Injection token of the dashboard's validated options. */
export const DASHBOARD_OPTIONS = Symbol.for('nestjs-cron-lock.DASHBOARD_OPTIONS');

/** The cookie and header of the double-submit CSRF token. */
export const CSRF_COOKIE = 'cron_lock_csrf';
export const CSRF_HEADER = 'x-cron-lock-csrf';

/**
 * The page's Content-Security-Policy: its script and style come from its own path, nothing
 * inline runs, nothing is fetched from elsewhere, and no other site may frame it.
 */
export const CONTENT_SECURITY_POLICY =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
  "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";
