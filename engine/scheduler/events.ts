// What the scheduler and the health monitor tell the rest of the system (admin UI live updates, GraphQL
// subscriptions). Only publish(topic, payload) is needed, so engine/events/bus.ts's EventBus fits as is; the
// EventEmitter adapter here serves tests that want every event synchronously and in order.
import { EventEmitter } from 'node:events';

export interface EventPublisher {
  publish(topic: string, payload: unknown): void;
}

export type SchedulerTopic =
  | 'sync.queued' | 'sync.started' | 'sync.progress' | 'sync.finished' | 'sync.skipped'
  | 'scheduler.breaker' | 'scheduler.connector'
  | 'health.alert' | 'health.resolved' | 'health.selftest';

/** Publishes to a Node EventEmitter under the topic name (and under '*' with { topic, payload }). */
export function emitterPublisher(emitter: EventEmitter = new EventEmitter()): EventPublisher & { emitter: EventEmitter } {
  emitter.setMaxListeners(0);
  return {
    emitter,
    publish(topic, payload) {
      emitter.emit(topic, payload);
      emitter.emit('*', { topic, payload });
    },
  };
}

/** Publishing never breaks the publisher: a failing subscriber is its own problem. */
export function safePublish(events: EventPublisher | undefined, topic: SchedulerTopic, payload: unknown): void {
  if (!events) return;
  try { events.publish(topic, payload); } catch { /* subscribers' errors stay with them */ }
}
