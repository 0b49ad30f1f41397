// The report's prose lives in bench/templates/<name>.md, not in string literals: a template is
// Markdown with {{name}} placeholders. Rules, kept small on purpose:
// - a leading <!-- comment --> (what the template is for, its placeholders) is dropped;
// - paragraphs are separated by blank lines, and a paragraph's lines are joined with one space
//   (templates wrap like any Markdown source; the generated file keeps one line per paragraph);
// - tables, lists and code blocks are values, never template text (they are built from data);
// - a placeholder without a value, or a value without a placeholder, is an error, so that a
//   renderer and its template cannot drift apart silently;
// - a paragraph that is only a placeholder whose value is '' disappears (an optional part).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TEMPLATES } from './paths.js';

export type TemplateValues = Readonly<Record<string, string | number>>;

const PLACEHOLDER = /\{\{(\w+)\}\}/g;
const ONLY_PLACEHOLDER = /^\{\{\w+\}\}$/;
const cache = new Map<string, string[]>();

function paragraphs(name: string): string[] {
  let ps = cache.get(name);
  if (ps === undefined) {
    const text = readFileSync(join(TEMPLATES, `${name}.md`), 'utf8').replace(/^<!--[\s\S]*?-->\s*/, '');
    ps = text
      .split(/\n[ \t]*\n/)
      .map((p) =>
        p
          .split('\n')
          .map((l) => l.trim())
          .join(' ')
          .trim(),
      )
      .filter((p) => p !== '');
    cache.set(name, ps);
  }
  return ps;
}

/** The template's paragraphs with every placeholder filled, separated by one blank line. */
export function renderTemplate(name: string, values: TemplateValues): string {
  const used = new Set<string>();
  const out: string[] = [];
  for (const p of paragraphs(name)) {
    const text = p.replace(PLACEHOLDER, (_, key: string) => {
      if (!Object.hasOwn(values, key)) throw new Error(`bench/templates/${name}.md: no value for {{${key}}}`);
      used.add(key);
      return String(values[key]);
    });
    if (text === '' && ONLY_PLACEHOLDER.test(p)) continue;
    out.push(text);
  }
  const unused = Object.keys(values).filter((k) => !used.has(k));
  if (unused.length > 0)
    throw new Error(
      `bench/templates/${name}.md: no placeholder for ${unused.map((k) => `{{${k}}}`).join(', ')}`,
    );
  return out.join('\n\n');
}
