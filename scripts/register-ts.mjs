// Minimal TypeScript loader for running .ts files directly with Node (ESM):
//
//   node --import ./scripts/register-ts.mjs sample/main.ts
//
// - relative `./x.js` specifiers resolve to `./x.ts` when that file exists (NodeNext style imports);
// - the bare specifier `nestjs-cron-lock` resolves to this repository's `lib/index.ts`, and its
//   subpaths (`nestjs-cron-lock/testing`) to `lib/<subpath>/index.ts`;
// - `.ts` / `.mts` files are transpiled with @swc/core (legacy decorators + decorator metadata,
//   ES2022, ES modules, inline source maps). No type checking: use `npm run typecheck` for that.
//
// This one file plays two roles: imported via `--import`, it registers itself (with `?hooks`)
// as the module-customization hooks, which Node then loads on its hooks thread.
import { existsSync, readFileSync } from 'node:fs';
import { register } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

const selfUrl = new URL(import.meta.url);
const isHooksInstance = selfUrl.searchParams.has('hooks');

if (!isHooksInstance) {
  process.setSourceMapsEnabled(true);
  const hooksUrl = new URL(selfUrl.href);
  hooksUrl.search = '?hooks';
  register(hooksUrl.href);
}

const repoRoot = new URL('../', selfUrl.href.split('?')[0]);
const PACKAGE_NAME = 'nestjs-cron-lock';
const packageEntry = new URL('lib/index.ts', repoRoot).href;

const TS_EXT = /\.m?ts$/;
const JS_TO_TS = [
  ['.js', '.ts'],
  ['.mjs', '.mts'],
];

/** @type {import('@swc/core') | undefined} */
let swc;
async function getSwc() {
  swc ??= await import('@swc/core');
  return swc;
}

function isRelative(specifier) {
  return specifier.startsWith('./') || specifier.startsWith('../') || specifier.startsWith('/');
}

function inNodeModules(url) {
  return url.includes('/node_modules/');
}

export async function resolve(specifier, context, nextResolve) {
  if (specifier === PACKAGE_NAME) {
    return { url: packageEntry, format: 'module', shortCircuit: true };
  }
  // Subpath exports: `nestjs-cron-lock/testing` → lib/testing/index.ts.
  const subpath = /^nestjs-cron-lock\/([a-z-]+)$/.exec(specifier);
  if (subpath) {
    return {
      url: new URL(`lib/${subpath[1]}/index.ts`, repoRoot).href,
      format: 'module',
      shortCircuit: true,
    };
  }

  const parent = context.parentURL;
  if (
    parent &&
    parent.startsWith('file:') &&
    !inNodeModules(parent) &&
    (isRelative(specifier) || specifier.startsWith('file:'))
  ) {
    for (const [jsExt, tsExt] of JS_TO_TS) {
      if (!specifier.endsWith(jsExt)) continue;
      const candidate = new URL(specifier.slice(0, -jsExt.length) + tsExt, parent);
      if (existsSync(candidate)) {
        return { url: candidate.href, format: 'module', shortCircuit: true };
      }
    }
  }

  return nextResolve(specifier, context);
}

export async function load(url, context, nextLoad) {
  if (!url.startsWith('file:') || inNodeModules(url)) return nextLoad(url, context);
  const pathname = new URL(url).pathname;
  if (!TS_EXT.test(pathname) || pathname.endsWith('.d.ts')) return nextLoad(url, context);

  const filename = fileURLToPath(url);
  const source = readFileSync(filename, 'utf8');
  const { transformSync } = await getSwc();
  const { code } = transformSync(source, {
    filename,
    swcrc: false,
    configFile: false,
    sourceMaps: 'inline',
    sourceFileName: pathToFileURL(filename).href,
    module: { type: 'es6' },
    jsc: {
      target: 'es2022',
      keepClassNames: true,
      parser: { syntax: 'typescript', decorators: true, dynamicImport: true },
      transform: {
        legacyDecorator: true,
        decoratorMetadata: true,
        useDefineForClassFields: true,
      },
    },
  });
  return { format: 'module', source: code, shortCircuit: true };
}
