// Resolves a connector's settings: --config FILE, else OFFERFEED_<ID>_<PROPERTY> environment variables,
// else a secret store (later issue) — then checks them against the spec's own config schema.
import { readFile } from 'node:fs/promises';
import type { ConnectorSpec } from '../types/connector.generated.ts';
import { createAjv } from '../validate/ajv.ts';
import type { Redactor } from '../log/redact.ts';

export type ConfigValues = Record<string, unknown>;

export interface ConfigSource { name: string; get(spec: ConnectorSpec): Promise<ConfigValues> }

export class ConfigError extends Error {
  constructor(message: string) { super(message); this.name = 'ConfigError'; }
}

export const envVarName = (connectorId: string, property: string): string =>
  `OFFERFEED_${connectorId}_${property}`.toUpperCase().replace(/-/g, '_');

export function fileConfigSource(path: string): ConfigSource {
  return {
    name: `file ${path}`,
    async get() {
      let text: string;
      try { text = await readFile(path, 'utf8'); } catch (e) { throw new ConfigError(`cannot read config file ${path}: ${(e as Error).message}`); }
      try {
        const v = JSON.parse(text);
        if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error('it must hold a JSON object');
        return v as ConfigValues;
      } catch (e) { throw new ConfigError(`config file ${path} is not valid: ${(e as Error).message}`); }
    },
  };
}

export function envConfigSource(env: NodeJS.ProcessEnv = process.env): ConfigSource {
  return {
    name: 'environment',
    async get(spec) {
      const out: ConfigValues = {};
      for (const [prop, schema] of Object.entries(spec.config?.properties ?? {})) {
        const raw = env[envVarName(spec.id, prop)];
        if (raw === undefined) continue;
        // Arrays come as JSON or comma-separated lists; scalars are coerced by the schema check.
        out[prop] = schema.type === 'array' ? (raw.trim().startsWith('[') ? JSON.parse(raw) : raw.split(',').map((s) => s.trim()).filter(Boolean)) : raw;
      }
      return out;
    },
  };
}

/** Merges sources (earlier wins per property), applies defaults, coerces and validates. Registers secrets with the redactor. */
export async function resolveConfig(spec: ConnectorSpec, sources: ConfigSource[], redactor?: Redactor): Promise<ConfigValues> {
  const values: ConfigValues = {};
  for (const source of [...sources].reverse()) Object.assign(values, await source.get(spec));
  const schema = spec.config ?? { type: 'object', properties: {} };
  for (const [prop, p] of Object.entries(schema.properties)) if (p['x-secret']) redactor?.add(values[prop]);
  const validate = createAjv({ coerceTypes: true, useDefaults: true }).compile(schema);
  if (!validate(values)) {
    const problems = (validate.errors ?? []).map((e) => {
      const prop = e.keyword === 'required' ? (e.params as { missingProperty: string }).missingProperty : e.instancePath.slice(1).split('/')[0];
      if (e.keyword === 'required') {
        return `missing setting "${prop}" (set it in the --config file or the environment variable ${envVarName(spec.id, prop)})`;
      }
      const secret = schema.properties[prop]?.['x-secret'];
      return `setting "${prop}" ${e.message}${secret ? '' : ` (value: ${JSON.stringify(values[prop])})`}`;
    });
    throw new ConfigError(`connector ${spec.id}: ${problems.join('; ')}`);
  }
  return values;
}

export function secretKeys(spec: ConnectorSpec): string[] {
  return Object.entries(spec.config?.properties ?? {}).filter(([, p]) => p['x-secret']).map(([k]) => k);
}
