// build.mjs -- bundles the dashboard into ONE self-contained HTML page:
// esbuild bundles src/main.js (with uPlot and the CSS it imports) and
// the script and styles are put inline into src/index.html.  The page
// loads nothing else: no external URL, no font, no second file.
//
//   node build.mjs [OUT]      (default: dist/index.html; `npm run build`)
import * as esbuild from 'esbuild';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const out = resolve(process.argv[2] || join(here, 'dist', 'index.html'));

const result = await esbuild.build({
  entryPoints: [join(here, 'src', 'main.js')],
  bundle: true,
  minify: true,
  format: 'iife',
  target: ['es2020'],
  legalComments: 'none', // uPlot's MIT notice is kept below, without its URL
  write: false,
  outdir: 'out', // names the in-memory outputs (main.js, main.css)
  logLevel: 'warning',
});
const js = result.outputFiles.find((f) => f.path.endsWith('.js')).text;
const css = result.outputFiles.find((f) => f.path.endsWith('.css')).text;

const template = readFileSync(join(here, 'src', 'index.html'), 'utf8');
const notice = '/* uPlot (MIT License, Copyright (c) 2022 Leon Sorokin) */\n';
// neither may end its element early
const page = template
  .replace('/*@CSS@*/', () => css.replace(/<\/style/gi, '<\\/style'))
  .replace('/*@JS@*/', () => notice + js.replace(/<\/script/gi, '<\\/script'));
if (page.includes('/*@CSS@*/') || page.includes('/*@JS@*/')) throw new Error('build.mjs: a marker was not replaced');

// nothing the browser would fetch from elsewhere
const external = page.match(/(?:src|href)\s*=\s*["']?(?:https?:)?\/\/|url\(\s*["']?(?:https?:)?\/\/|@import/i);
if (external) {
  console.error(`build.mjs: the page refers to an external resource near "${external[0]}"`);
  process.exit(1);
}

mkdirSync(dirname(out), { recursive: true });
writeFileSync(`${out}.tmp`, page);
renameSync(`${out}.tmp`, out);
console.log(`dashboard: ${out} (${page.length} bytes)`);
