import { randomBytes, timingSafeEqual } from 'node:crypto';
import { CSRF_COOKIE } from './dashboard.constants.js';

const TOKEN_FORMAT = /^[A-Za-z0-9_-]{43}$/;

/**
 * Double-submit CSRF token: the page carries it in a `<meta>` and its script sends it back in
 * a header; the server compares it with the same value in a `SameSite=Strict` cookie. Another
 * site can make a browser send the cookie (it cannot: SameSite) but never read the page to learn
 * the header's value, and a custom header forces a CORS preflight, which the app does not allow.
 * Stateless, so it works whichever instance behind a load balancer answers the POST.
 */
export function csrfTokenFrom(cookieHeader: string | undefined): string | undefined {
  for (const part of (cookieHeader ?? '').split(';')) {
    const [key, ...rest] = part.trim().split('=');
    const value = rest.join('=');
    if (key === CSRF_COOKIE && TOKEN_FORMAT.test(value)) {
      return value;
    }
  }
  return undefined;
}

/** A new token: 256 random bits, base64url. */
export function newCsrfToken(): string {
  return randomBytes(32).toString('base64url');
}

/**
 * The `Set-Cookie` value for the token. No `Path`: the browser scopes it to the page's own
 * directory, whatever prefix a proxy adds. `Secure` when the page was reached over HTTPS.
 */
export function csrfCookie(token: string, secure: boolean): string {
  return `${CSRF_COOKIE}=${token}; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`;
}

/** Whether the header's token matches the cookie's, in constant time. */
export function csrfTokensMatch(cookieHeader: string | undefined, header: unknown): boolean {
  const expected = csrfTokenFrom(cookieHeader);
  if (expected === undefined || typeof header !== 'string' || !TOKEN_FORMAT.test(header)) {
    return false;
  }
  return timingSafeEqual(Buffer.from(expected), Buffer.from(header));
}
