import type { ProfileDto } from '@app/base-client/contract';
import type { ProfileRow } from '../../storage/rows.js';

export function toProfileDto(row: ProfileRow): ProfileDto {
  return { id: row.id, name: row.name, userIds: row.userIds, createdAt: row.createdAt.toISOString() };
}
