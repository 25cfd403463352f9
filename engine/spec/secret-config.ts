// The secret store as the last source of connector settings (after --config and the environment).
import type { ConfigSource } from './config.ts';
import type { SecretStore } from '../store/secrets.ts';

export function secretStoreConfigSource(secrets: SecretStore): ConfigSource {
  return { name: 'secret store', get: (spec) => secrets.getAll(spec.id) };
}
