/** mulberry32: a tiny deterministic PRNG, so the same seed always yields the same test data. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const FIRST = [
  'Ada',
  'Alan',
  'Barbara',
  'Claude',
  'Donald',
  'Edsger',
  'Frances',
  'Grace',
  'Hedy',
  'John',
  'Katherine',
  'Ken',
  'Leslie',
  'Linus',
  'Margaret',
  'Niklaus',
  'Radia',
  'Shafi',
  'Tim',
  'Whitfield',
];
const LAST = [
  'Allen',
  'Backus',
  'Cerf',
  'Dijkstra',
  'Engelbart',
  'Floyd',
  'Goldwasser',
  'Hopper',
  'Iverson',
  'Johnson',
  'Knuth',
  'Lamport',
  'Liskov',
  'McCarthy',
  'Perlman',
  'Ritchie',
  'Shannon',
  'Thompson',
  'Turing',
  'Wirth',
];
const ADJECTIVES = [
  'Amber',
  'Brisk',
  'Calm',
  'Deep',
  'Eager',
  'Fleet',
  'Golden',
  'Hidden',
  'Ivory',
  'Jade',
  'Keen',
  'Lunar',
  'Misty',
  'Noble',
  'Quiet',
  'Rapid',
  'Silver',
  'Tidal',
  'Vivid',
  'Wild',
];
const NOUNS = [
  'Aurora',
  'Beacon',
  'Canyon',
  'Delta',
  'Ember',
  'Falcon',
  'Glacier',
  'Harbor',
  'Island',
  'Jetty',
  'Kestrel',
  'Lagoon',
  'Meadow',
  'Nebula',
  'Orbit',
  'Prairie',
  'Quasar',
  'Ridge',
  'Summit',
  'Tundra',
];

/** Deterministic display names for generated users and profiles. */
export class SeededNames {
  private readonly random: () => number;

  constructor(seed: number) {
    this.random = seededRandom(seed);
  }

  user(index: number): string {
    return `${this.pick(FIRST)} ${this.pick(LAST)} #${index + 1}`;
  }

  profile(index: number): string {
    return `${this.pick(ADJECTIVES)} ${this.pick(NOUNS)} #${index + 1}`;
  }

  private pick(words: readonly string[]): string {
    return words[Math.floor(this.random() * words.length)]!;
  }
}
