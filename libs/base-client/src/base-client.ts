import { Pool } from 'undici';
import { AppError, type ErrorCode, isErrorCode } from '@app/errors';
import {
  type CountsDto,
  type CreatedProfileDto,
  type CreateProfileBody,
  type CreateProfilesBody,
  type CreateUsersBody,
  type Items,
  MAX_BINDING_PAGE_LIMIT,
  MAX_PAGE_LIMIT,
  type Paged,
  type ProfileDto,
  type ProfileRefDto,
  type RankUsersBody,
  type SuggestedDto,
  type UserBody,
  type UserDto,
} from './contract.js';

export interface BaseClientOptions {
  /** Whole-request deadline; past it the call fails as `DEPENDENCY_UNAVAILABLE`. */
  timeoutMs: number;
  connections?: number;
  adminToken?: string;
  /** The internal service credential (`INTERNAL_TOKEN`) base asks of its peers on every call. */
  internalToken?: string;
}

/** The codes with which base says why a binding check did not pass. */
const BINDING_REFUSALS: ReadonlySet<ErrorCode> = new Set(['USER_NOT_FOUND', 'PROFILE_NOT_FOUND', 'BINDING_NOT_FOUND']);

/**
 * Typed client of the base service over a keep-alive connection pool. base's 4xx answers keep
 * their code and status when the code is one of ours with that status (a 404 `USER_NOT_FOUND`
 * stays one); anything else — base unreachable, slow or failing (5xx), a redirect, a 4xx without
 * a known code, a body that is not JSON — becomes 503 `DEPENDENCY_UNAVAILABLE`: an outage or a
 * stranger answering never looks like "not found", and never like success.
 */
export class BaseClient {
  private readonly pool: Pool;

  constructor(
    readonly baseUrl: string,
    private readonly options: BaseClientOptions,
  ) {
    this.pool = new Pool(baseUrl, {
      connections: options.connections ?? 64,
      keepAliveTimeout: 30_000,
      connectTimeout: options.timeoutMs,
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
    });
  }

  listUsers(limit: number, page?: string): Promise<Paged<UserDto>> {
    return this.call('GET', `/users${query({ limit, page })}`);
  }

  listProfiles(limit: number, page?: string): Promise<Paged<ProfileDto>> {
    return this.call('GET', `/profiles${query({ limit, page })}`);
  }

  /** Every user, fetched page by page (`pageSize` each) while the caller iterates. */
  allUsers(pageSize = MAX_PAGE_LIMIT): AsyncGenerator<UserDto> {
    return pageThrough((page) => this.listUsers(pageSize, page));
  }

  /** Every profile, fetched page by page (`pageSize` each) while the caller iterates. */
  allProfiles(pageSize = MAX_PAGE_LIMIT): AsyncGenerator<ProfileDto> {
    return pageThrough((page) => this.listProfiles(pageSize, page));
  }

  getUser(id: string): Promise<UserDto> {
    return this.call('GET', `/users/${segment(id)}`);
  }

  /** A page of the user's profiles (`{id, name}`), up to 10,000 a page. */
  profilesOf(userId: string, limit = MAX_BINDING_PAGE_LIMIT, page?: string): Promise<Paged<ProfileRefDto>> {
    return this.call('GET', `/users/${segment(userId)}/profiles${query({ limit, page })}`);
  }

  /** A page of the user's profile ids only, up to 10,000 a page. */
  profileIdsOf(userId: string, limit = MAX_BINDING_PAGE_LIMIT, page?: string): Promise<Paged<string>> {
    return this.call('GET', `/users/${segment(userId)}/profile-ids${query({ limit, page })}`);
  }

  /** Every profile of the user, a page of 10,000 at a time while the caller iterates. */
  allProfilesOf(userId: string): AsyncGenerator<ProfileRefDto> {
    return pageThrough((page) => this.profilesOf(userId, MAX_BINDING_PAGE_LIMIT, page));
  }

  /** How many users and profiles exist. */
  counts(): Promise<CountsDto> {
    return this.call('GET', '/counts');
  }

  /** Users bound to ≥ 2 profiles, most-bound first (at most 50). */
  suggested(): Promise<SuggestedDto> {
    return this.call('GET', '/suggested');
  }

  /** Many users at once (admin); `timeoutMs` replaces the client's deadline for this call. */
  async createUsers(names: readonly string[], timeoutMs?: number): Promise<UserDto[]> {
    const body: CreateUsersBody = { names: [...names] };
    return (await this.call<Items<UserDto>>('POST', '/users/batch', body, true, timeoutMs)).items;
  }

  /** Many profiles with users made for them and existing users bound (admin). */
  async createProfiles(body: CreateProfilesBody, timeoutMs?: number): Promise<CreatedProfileDto[]> {
    return (await this.call<Items<CreatedProfileDto>>('POST', '/profiles/batch', body, true, timeoutMs)).items;
  }

  /** Re-ranks users in the suggestions (admin). */
  async rankUsers(userIds: readonly string[], timeoutMs?: number): Promise<void> {
    const body: RankUsersBody = { userIds: [...userIds] };
    await this.call('POST', '/users/rank', body, true, timeoutMs);
  }

  createUser(name: string): Promise<UserDto> {
    const body: UserBody = { name };
    return this.call('POST', '/users', body);
  }

  createProfile(name: string, userIds: readonly string[]): Promise<ProfileDto> {
    const body: CreateProfileBody = { name, userIds: [...userIds] };
    return this.call('POST', '/profiles', body);
  }

  /**
   * Resolves when the user is bound to the profile — only on exactly 204. Rejects with base's 404
   * codes `USER_NOT_FOUND`, `PROFILE_NOT_FOUND` or `BINDING_NOT_FOUND`, and with 503
   * `DEPENDENCY_UNAVAILABLE` for any other answer (fail closed: 200, 302, a code-less 404, 5xx…).
   */
  async assertBound(userId: string, profileId: string): Promise<void> {
    const path = `/profiles/${segment(profileId)}/users/${segment(userId)}`;
    const { statusCode, payload } = await this.send('GET', path);
    if (statusCode === 204 && payload === undefined) return;
    const refusal = statusCode === 404 ? knownError(statusCode, payload) : undefined;
    if (refusal && BINDING_REFUSALS.has(refusal.code)) throw refusal;
    throw unexpectedAnswer(statusCode, 'GET', path);
  }

  async deleteAllUsers(timeoutMs?: number): Promise<void> {
    await this.call('DELETE', '/users', undefined, true, timeoutMs);
  }

  async deleteAllProfiles(timeoutMs?: number): Promise<void> {
    await this.call('DELETE', '/profiles', undefined, true, timeoutMs);
  }

  /** Readiness probe of base itself (its own Cassandra check included). */
  async ping(): Promise<void> {
    await this.call('GET', '/health/ready');
  }

  close(): Promise<void> {
    return this.pool.close();
  }

  private async call<T>(method: string, path: string, body?: unknown, admin = false, timeoutMs?: number): Promise<T> {
    const { statusCode, payload } = await this.send(method, path, body, admin, timeoutMs);
    if (statusCode >= 200 && statusCode < 300) return payload as T;
    const known = statusCode >= 400 && statusCode < 500 ? knownError(statusCode, payload) : undefined;
    throw known ?? unexpectedAnswer(statusCode, method, path);
  }

  /** One request; its status and parsed JSON body (undefined when empty). Transport or JSON failures are 503. */
  private async send(
    method: string,
    path: string,
    body?: unknown,
    admin = false,
    timeoutMs = this.options.timeoutMs,
  ): Promise<{ statusCode: number; payload: unknown }> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const credential = admin && this.options.adminToken ? this.options.adminToken : this.options.internalToken;
    if (credential) headers.authorization = `Bearer ${credential}`;
    // One deadline for the whole call — waiting for a connection, the headers and the body. A timer
    // cleared when the call ends, not `AbortSignal.timeout`: that one's timer lives its full length
    // after the answer, so at hundreds of calls a second every signal outlives two young
    // collections and fills the old generation (three times the promotion, and its pauses).
    const deadline = new AbortController();
    const timer = setTimeout(
      () => deadline.abort(new DOMException(`no answer within ${timeoutMs} ms`, 'TimeoutError')),
      timeoutMs,
    );
    try {
      let response;
      try {
        response = await this.pool.request({
          method: method as 'GET',
          path,
          headers,
          body: body === undefined ? undefined : JSON.stringify(body),
          signal: deadline.signal,
          headersTimeout: timeoutMs,
          bodyTimeout: timeoutMs,
        });
      } catch (error) {
        throw AppError.dependencyUnavailable('base', error);
      }
      const { statusCode } = response;
      let payload: unknown;
      try {
        const text = await response.body.text();
        payload = text ? JSON.parse(text) : undefined;
      } catch (error) {
        throw AppError.dependencyUnavailable('base', error);
      }
      return { statusCode, payload };
    } finally {
      clearTimeout(timer);
    }
  }
}

/**
 * Yields every item of a paged list, asking for the next page only when the caller has taken
 * the previous one, until a page comes without `nextPage`.
 */
export async function* pageThrough<T>(fetchPage: (page?: string) => Promise<Paged<T>>): AsyncGenerator<T> {
  let page: string | undefined;
  do {
    const batch = await fetchPage(page);
    yield* batch.items;
    page = batch.nextPage;
  } while (page);
}

/** base's error when it carries one of our codes with the status that code has; else undefined. */
function knownError(status: number, payload: unknown): AppError | undefined {
  if (typeof payload !== 'object' || payload === null) return undefined;
  const body = payload as { code?: unknown; message?: unknown; details?: unknown };
  if (!isErrorCode(body.code)) return undefined;
  return AppError.relay('base', status, { ...body, code: body.code });
}

function unexpectedAnswer(status: number, method: string, path: string): AppError {
  return AppError.dependencyUnavailable('base', new Error(`base answered ${status} to ${method} ${path}`));
}

/** One path segment: ids are validated upstream, and encoded here all the same, so none becomes a path or a query. */
function segment(value: string): string {
  return encodeURIComponent(value);
}

function query(params: Record<string, string | number | undefined>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) if (value !== undefined) search.set(key, String(value));
  const text = search.toString();
  return text ? `?${text}` : '';
}
