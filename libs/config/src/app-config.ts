/** The three apps; each validates only the variables it uses (`loadConfig`). */
export type AppName = 'base' | 'main' | 'stream';

/** Where a stream's events come from: the demo generator, published events, or both (`STREAM_SOURCES`). */
export const STREAM_SOURCE_NAMES = ['generator', 'published'] as const;
export type StreamSourceName = (typeof STREAM_SOURCE_NAMES)[number];

/** Nest's log levels, most severe first; a level shows itself and every one before it. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** `json`: one JSON object per line (production); `pretty`: one readable line per event (a terminal). */
export const LOG_FORMATS = ['json', 'pretty'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];
