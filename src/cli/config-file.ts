// --config FILE: a job file with the same settings as the flags, like a fio job file. JSON, or YAML
// when the name ends in .yaml or .yml. Keys are the long flag names (queue-entries) or their
// camelCase (queueEntries); values are what the flag takes (a number is taken as the flag's bare
// number: seconds for a time, ns for a latency). Flags on the command line win over the file.
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { UsageError } from '../config/parse.js';

/** How a flag takes its value: one value, on/off, repeatable (a list), or on/off or a value. */
export type OptionKind = 'value' | 'bool' | 'list' | 'optional';

export interface KnownOption {
  /** commander's attribute name, e.g. queueEntries. */
  readonly attr: string;
  /** The long flag without dashes, e.g. queue-entries. */
  readonly long: string;
  readonly kind: OptionKind;
}

export interface FileSetting {
  readonly attr: string;
  /** The key as written in the file, for messages. */
  readonly key: string;
  readonly value: string | boolean | string[];
}

function oneLine(s: string): string {
  return s.split('\n')[0].trim();
}

function describeType(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'string') return `"${v}"`;
  return String(v);
}

export function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why =
      err.code === 'ENOENT'
        ? 'no such file or directory'
        : err.code === 'EISDIR'
          ? 'it is a directory'
          : err.code === 'EACCES'
            ? 'permission denied'
            : oneLine(err.message);
    throw new UsageError(`--config: cannot read ${path}: ${why}`);
  }
  const yaml = /\.ya?ml$/i.test(path);
  let data: unknown;
  try {
    data = yaml ? parseYaml(text) : JSON.parse(text);
  } catch (e) {
    throw new UsageError(`${path}: not valid ${yaml ? 'YAML' : 'JSON'}: ${oneLine((e as Error).message)}`);
  }
  if (data === null || typeof data !== 'object' || Array.isArray(data))
    throw new UsageError(`${path}: expected an object of settings (key: value) at the top level`);
  return data as Record<string, unknown>;
}

function scalar(file: string, key: string, v: unknown): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  throw new UsageError(`${file}: ${key}: expected a number or a string, got ${describeType(v)}`);
}

/** The file's settings as commander values, validated for shape; values are checked by toConfig. */
export function loadConfigFile(path: string, known: readonly KnownOption[]): FileSetting[] {
  const data = readConfigFile(path);
  const out: FileSetting[] = [];
  const seen = new Map<string, string>();
  for (const [key, v] of Object.entries(data)) {
    const opt = known.find((o) => o.long === key || o.attr === key);
    if (!opt)
      throw new UsageError(
        `${path}: unknown key "${key}" (keys are the long flag names, e.g. "queue-entries" or "queueEntries"; see --help)`,
      );
    const prev = seen.get(opt.attr);
    if (prev !== undefined) throw new UsageError(`${path}: "${prev}" and "${key}" set the same setting`);
    seen.set(opt.attr, key);
    let value: FileSetting['value'];
    if (opt.kind === 'bool') {
      if (typeof v !== 'boolean')
        throw new UsageError(`${path}: ${key}: expected true or false, got ${describeType(v)}`);
      value = v;
    } else if (opt.kind === 'optional' && typeof v === 'boolean') {
      value = v;
    } else if (opt.kind === 'list') {
      value = listValue(path, key, opt.attr, v);
    } else if (opt.attr === 'strategy' && Array.isArray(v)) {
      value = v.map((s) => scalar(path, key, s)).join(',');
    } else {
      value = scalar(path, key, v);
    }
    out.push({ attr: opt.attr, key, value });
  }
  return out;
}

/** A repeatable flag: one string, a list of strings, or for sweep also `{ cpus: [1, 2], ... }`. */
function listValue(path: string, key: string, attr: string, v: unknown): string[] {
  if (typeof v === 'string') return [v];
  if (Array.isArray(v)) {
    const items = v.map((s) => scalar(path, key, s));
    if (attr !== 'sweep') return items;
    // YAML's flow list [cpus=1,2] is two items, "cpus=1" and "2": a value without "=" continues
    // the spec before it.
    const specs: string[] = [];
    for (const it of items)
      if (!it.includes('=') && specs.length > 0) specs[specs.length - 1] += `,${it}`;
      else specs.push(it);
    return specs;
  }
  if (attr === 'sweep' && v !== null && typeof v === 'object')
    return Object.entries(v as Record<string, unknown>).map(([axis, vals]) => {
      const list = Array.isArray(vals)
        ? vals.map((s) => scalar(path, `${key} ${axis}`, s))
        : [scalar(path, `${key} ${axis}`, vals)];
      return `${axis}=${list.join(',')}`;
    });
  throw new UsageError(`${path}: ${key}: expected a string or a list of strings, got ${describeType(v)}`);
}
