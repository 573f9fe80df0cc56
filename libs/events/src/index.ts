export { pairEventKeys, type PairEventKeys } from './keys.js';
export {
  type ChannelMessage,
  compareEntryIds,
  type HistoryBounds,
  type HistoryRead,
  isEntryId,
  lastPairEntry,
  NO_ENTRY,
  parseChannelMessage,
  publishPairEvent,
  type PublishedEvent,
  readPairHistory,
  takenOverMessage,
} from './pair-events.js';
