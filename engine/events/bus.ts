// The event bus between the parts of a deployment: the sync engine announces committed runs, the API turns them
// into read-model updates and GraphQL subscription events, the scheduler reports its runs. The interface is all
// anyone depends on: this in-process implementation serves one node; a clustered one (NATS, Redis streams,
// a ClickHouse or Postgres queue) implements the same three methods and every API node subscribes to it.
// Payloads are plain JSON-safe data so they can cross a process boundary unchanged.
import { EventEmitter } from 'node:events';
import type { CommitCounts } from '../store/serving-store.ts';

export type Handler<T = unknown> = (payload: T) => void | Promise<void>;

export interface EventBus {
  /** Fire and forget; a failing subscriber never reaches the publisher. Same shape as the scheduler's EventPublisher. */
  publish(topic: string, payload: unknown): void;
  /** Returns the function that unsubscribes. */
  subscribe<T = unknown>(topic: string, handler: Handler<T>): () => void;
  close(): Promise<void>;
}

/** Topics with a meaning across the system (the scheduler publishes its own `sync.*` topics too). */
export const TOPICS = {
  /** A run's changes are committed in the serving store: payload RunCommitted. */
  runCommitted: 'offers.committed',
  /** The scheduler's summary of a finished run (any status). */
  syncFinished: 'sync.finished',
} as const;

export interface RunCommitted { runId: string; counts?: CommitCounts; at: string }

export class LocalEventBus implements EventBus {
  private readonly emitter = new EventEmitter();
  private closed = false;

  constructor(private readonly onError: (err: unknown, topic: string) => void = () => undefined) {
    this.emitter.setMaxListeners(0);
  }

  publish(topic: string, payload: unknown): void {
    if (this.closed) return;
    // Subscribers run after the publisher's current step, as they would behind a network hop.
    queueMicrotask(() => this.emitter.emit(topic, payload));
  }

  subscribe<T = unknown>(topic: string, handler: Handler<T>): () => void {
    const wrapped = (payload: T) => {
      try {
        const r = handler(payload);
        if (r && typeof (r as Promise<void>).catch === 'function') (r as Promise<void>).catch((e) => this.onError(e, topic));
      } catch (e) {
        this.onError(e, topic);
      }
    };
    this.emitter.on(topic, wrapped);
    return () => { this.emitter.off(topic, wrapped); };
  }

  async close(): Promise<void> {
    this.closed = true;
    this.emitter.removeAllListeners();
  }
}

/**
 * The `onCommitted` hook for syncConnector: announces the committed run on the bus. Whoever runs syncs in the
 * API's process (scheduler, admin "sync now") passes this, and subscribers see the change within milliseconds.
 */
export function announceCommits(bus: EventBus): (runId: string, counts: CommitCounts) => void {
  return (runId, counts) => bus.publish(TOPICS.runCommitted, { runId, counts, at: new Date().toISOString() } satisfies RunCommitted);
}
