import { PROFILE_USERS_PREVIEW, type ProfileDto } from '@app/base-client/contract';
import type { ProfileRow } from '../../storage/rows.js';

/** A profile with the first `PROFILE_USERS_PREVIEW` of `firstUserIds` (read one more, to know there are more). */
export function toProfileDto(row: ProfileRow, firstUserIds: readonly string[]): ProfileDto {
  const dto: ProfileDto = {
    id: row.id,
    name: row.name,
    userIds: firstUserIds.slice(0, PROFILE_USERS_PREVIEW),
    createdAt: row.createdAt.toISOString(),
  };
  if (firstUserIds.length > PROFILE_USERS_PREVIEW) dto.moreUsers = true;
  return dto;
}
