export {
  BackpressureWriter,
  type DeliveryListener,
  type DropLimits,
  type DropReason,
  type Frame,
  flushSoon,
  type SseSink,
} from './backpressure-writer.js';
export { EventSchedule } from './event-schedule.js';
export { type EventParts, frameEvent, MessageFramer } from './message-framer.js';
export { PayloadPool } from './payload-pool.js';
export { EVENT_SLOT_MS, SharedTimer } from './shared-timer.js';
export { encodeComment, encodeEvent, type SseEvent } from './sse-frames.js';
export { TimedRounds } from './timed-rounds.js';
