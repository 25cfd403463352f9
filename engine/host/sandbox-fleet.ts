// Every connector's sandbox served on loopback, for a deployment that runs the example feeds without credentials
// (`offerfeed up`, demos, the admin UI's browser tests): the scheduler points each such connector at its sandbox
// (the same --base-url rewrite as `offerfeed sync --base-url`) with the sandbox's invented settings.
import type { ConnectorSpec } from '../types/connector.generated.ts';
import type { ConfigSource } from '../spec/config.ts';
import { listConnectorIds } from '../spec/registry.ts';
import { loadSandbox, serveSandbox, type RunningSandbox } from '../sandbox/server.ts';

export class SandboxFleet {
  private constructor(private readonly running: Map<string, RunningSandbox>) {}

  /** Starts the sandbox of each connector that has one (all of connectors/ by default). */
  static async start(ids: string[] = listConnectorIds(), log: (msg: string) => void = () => undefined): Promise<SandboxFleet> {
    const running = new Map<string, RunningSandbox>();
    for (const id of ids) {
      const sb = await loadSandbox(id).catch(() => undefined);
      if (!sb) { log(`${id}: no sandbox, runs against its real API`); continue; }
      running.set(id, await serveSandbox(sb.spec, sb.dir, sb.definition, sb.config, sb.configFile));
    }
    return new SandboxFleet(running);
  }

  has(id: string): boolean { return this.running.has(id); }
  ids(): string[] { return [...this.running.keys()]; }
  url(id: string): string | undefined { return this.running.get(id)?.url; }

  /** The sandbox's settings for a sandboxed connector, else the given sources. */
  configSources(spec: ConnectorSpec, otherwise: ConfigSource[]): ConfigSource[] {
    const sb = this.running.get(spec.id);
    return sb ? [{ name: 'sandbox', get: async () => sb.config }] : otherwise;
  }

  async close(): Promise<void> {
    await Promise.all([...this.running.values()].map((s) => s.close()));
    this.running.clear();
  }
}
