import { z } from 'zod';

/** `POST /main/publish/:userId/:profileId`: `{event?, data}` — `data` any JSON value (null included). */
export const publishSchema = z.strictObject({
  event: z.string().optional(),
  data: z.json(),
});
export type PublishBody = z.infer<typeof publishSchema>;

export interface Published {
  /** The event's entry in the pair's history (`<ms>-<n>`): the middle part of the SSE id it is streamed with. */
  id: string;
}

/** SSE-safe event names: no line breaks or spaces, short, starting with a letter. */
export const EVENT_NAME = /^[A-Za-z][A-Za-z0-9_.:-]{0,63}$/;
