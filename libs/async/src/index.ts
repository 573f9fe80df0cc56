export { mapWithConcurrency } from './concurrency.js';
export { FreshValue } from './fresh-value.js';
