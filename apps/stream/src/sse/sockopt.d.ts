/** npm `sockopt` (CommonJS native addon): integer-valued getsockopt/setsockopt on a Node socket's fd. */
declare module 'sockopt' {
  import type { Socket } from 'node:net';

  const sockopt: {
    getsockopt(socket: Socket, level: number, option: number): number;
    setsockopt(socket: Socket, level: number, option: number, value: number): void;
  };
  export default sockopt;
}
