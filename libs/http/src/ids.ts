import { Injectable, Param, type PipeTransform } from '@nestjs/common';
import { AppError } from '@app/errors';
import { isUuid } from '@app/ids';

/** Rejects a malformed id with 400 `INVALID_ID` and returns it lower-cased. */
@Injectable()
export class ParseIdPipe implements PipeTransform<unknown, string> {
  transform(value: unknown): string {
    if (!isUuid(value)) {
      throw AppError.of('INVALID_ID', { value });
    }
    return value.toLowerCase();
  }
}

/** Route parameter that must be a UUID: `@IdParam('userId') userId: string`. */
export const IdParam = (name: string) => Param(name, ParseIdPipe);
