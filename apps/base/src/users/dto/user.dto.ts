import type { UserDto } from '@app/base-client/contract';
import type { UserRow } from '../../storage/rows.js';

export function toUserDto(row: UserRow): UserDto {
  return { id: row.id, name: row.name, createdAt: row.createdAt.toISOString() };
}
