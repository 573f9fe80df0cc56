/**
 * Incremental Server-Sent Events parser (the WHATWG rules that matter here): feed it text as it
 * arrives, get back complete events `{event, id, data}`; comment lines are counted.
 */
export class SseParser {
  #buffer = '';
  #event = { event: 'message', id: undefined, data: [] };
  comments = 0;

  /** @returns {{event: string, id: string | undefined, data: string}[]} */
  feed(text) {
    this.#buffer += text;
    const events = [];
    let newline;
    while ((newline = this.#buffer.search(/\r\n|\r|\n/)) >= 0) {
      const line = this.#buffer.slice(0, newline);
      const breakLength = this.#buffer.startsWith('\r\n', newline) ? 2 : 1;
      this.#buffer = this.#buffer.slice(newline + breakLength);
      if (line === '') {
        if (this.#event.data.length > 0 || this.#event.event !== 'message') {
          events.push({ event: this.#event.event, id: this.#event.id, data: this.#event.data.join('\n') });
        }
        this.#event = { event: 'message', id: undefined, data: [] };
      } else if (line.startsWith(':')) {
        this.comments++;
      } else {
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        let value = colon < 0 ? '' : line.slice(colon + 1);
        if (value.startsWith(' ')) value = value.slice(1);
        if (field === 'data') this.#event.data.push(value);
        else if (field === 'event') this.#event.event = value;
        else if (field === 'id') this.#event.id = value;
      }
    }
    return events;
  }
}
