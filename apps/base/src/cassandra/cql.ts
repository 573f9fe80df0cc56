import { Logger } from '@nestjs/common';
import cassandra from 'cassandra-driver';
import type { BaseConfig } from '@app/config';
import { AppError } from '@app/errors';

const { errors, policies, types } = cassandra;
const codes = types.responseErrorCodes;

/** Server answers that mean "Cassandra cannot serve this now", not "the request is wrong". */
const OUTAGE_CODES = new Set<number>([
  codes.unavailableException,
  codes.overloaded,
  codes.isBootstrapping,
  codes.truncateError,
  codes.writeTimeout,
  codes.readTimeout,
  codes.readFailure,
  codes.writeFailure,
]);

/**
 * How long one write of a bulk request may take. Its statements queue behind each other in
 * Cassandra's write stage, so on a busy node one waits far longer than an interactive request
 * should; the bulk caller (a job, with its own deadline) would rather wait than fail half-way.
 */
export const BULK_TIMEOUT_MS = 10_000;

/** `bulk`: one statement of a bulk request, given `BULK_TIMEOUT_MS` instead of the request timeout. */
export interface BulkOptions {
  bulk?: boolean;
}

const BULK_PROFILE = 'bulk';
const bulkTimeoutMs = (requestTimeoutMs: number) => Math.max(requestTimeoutMs, BULK_TIMEOUT_MS);

export type Row = cassandra.types.Row;
export type Params = readonly unknown[];

/** One statement of a batch or of a concurrent run. */
export interface Statement {
  query: string;
  params: Params;
}

export interface Page {
  rows: Row[];
  /** Opaque token for the next page; undefined on the last page. */
  nextPage: string | undefined;
}

/**
 * The one gateway to Cassandra: prepared statements always, a hard deadline on every call, and
 * driver failures turned into `DEPENDENCY_UNAVAILABLE` so an outage is a quick 503, never a hang.
 */
export class Cql {
  private readonly logger = new Logger(Cql.name);
  private readonly deadlineMs: number;
  private readonly bulkTimeoutMs: number;

  private constructor(
    private readonly client: cassandra.Client,
    readonly keyspace: string,
    requestTimeoutMs: number,
  ) {
    // The driver's own read timeout fires first; this deadline covers connection-level stalls.
    this.deadlineMs = requestTimeoutMs + 250;
    this.bulkTimeoutMs = bulkTimeoutMs(requestTimeoutMs);
  }

  /** Connects or fails with a message that says where it tried. */
  static async connect(config: BaseConfig['cassandra']): Promise<Cql> {
    const client = new cassandra.Client({
      contactPoints: [...config.contactPoints],
      localDataCenter: config.localDc,
      socketOptions: { connectTimeout: 2000, readTimeout: config.requestTimeoutMs },
      policies: { reconnection: new policies.reconnection.ExponentialReconnectionPolicy(250, 5000, false) },
      queryOptions: { prepare: true, consistency: types.consistencies.localQuorum },
      profiles: [new cassandra.ExecutionProfile(BULK_PROFILE, { readTimeout: bulkTimeoutMs(config.requestTimeoutMs) })],
    });
    try {
      await client.connect();
    } catch (error) {
      await client.shutdown().catch(() => undefined);
      throw new Error(
        `Cannot connect to Cassandra at ${config.contactPoints.join(', ')} (data centre ${config.localDc}): ${
          (error as Error).message
        }`,
        { cause: error },
      );
    }
    return new Cql(client, config.keyspace, config.requestTimeoutMs);
  }

  /** Runs one prepared statement. */
  async execute(
    query: string,
    params: Params = [],
    options: cassandra.QueryOptions & BulkOptions = {},
  ): Promise<cassandra.types.ResultSet> {
    const { bulk, ...rest } = options;
    const profile = bulk ? { executionProfile: BULK_PROFILE } : {};
    return this.withDeadline(
      this.client.execute(query, params as unknown[], { prepare: true, ...rest, ...profile }),
      bulk ? this.bulkTimeoutMs : undefined,
    );
  }

  /** One page of a prepared query; a page token the server cannot read is a 400. */
  async page(query: string, params: Params, limit: number, pageToken: string | undefined): Promise<Page> {
    const pageState = pageToken === undefined ? undefined : decodePageToken(pageToken);
    try {
      const result = await this.execute(query, params, { fetchSize: limit, pageState, autoPage: false });
      return {
        rows: result.rows,
        nextPage: result.pageState ? Buffer.from(result.pageState, 'hex').toString('base64url') : undefined,
      };
    } catch (error) {
      if (pageState !== undefined && isInvalidRequest(error)) throw AppError.of('INVALID_PAGE_TOKEN');
      throw error;
    }
  }

  /**
   * Statements as one batch. Logged: once the batch log has it, every statement applies, so rows
   * of several tables that serve one fact appear in all of them or in none. Unlogged: only for
   * statements of one partition (applied together without the batch log).
   */
  async batch(statements: readonly Statement[], logged: boolean, options: BulkOptions = {}): Promise<void> {
    if (statements.length === 0) return;
    const queries = statements.map(({ query, params }) => ({ query, params: params as unknown[] }));
    const profile = options.bulk ? { executionProfile: BULK_PROFILE } : {};
    await this.withDeadline(
      this.client.batch(queries, { prepare: true, logged, ...profile }),
      options.bulk ? this.bulkTimeoutMs : undefined,
    );
  }

  /**
   * The same prepared statement for each parameter list, at most `concurrency` in flight (the
   * driver's `executeConcurrent`); rejects with the first failure, after which no new one starts.
   */
  async concurrent(
    query: string,
    paramsList: readonly Params[],
    concurrency: number,
    options: BulkOptions = {},
  ): Promise<void> {
    if (paramsList.length === 0) return;
    try {
      await cassandra.concurrent.executeConcurrent(this.client, query, paramsList as unknown[][], {
        concurrencyLevel: concurrency,
        raiseOnFirstError: true,
        collectResults: false,
        ...(options.bulk ? { executionProfile: BULK_PROFILE } : {}),
      });
    } catch (error) {
      throw this.translate(error);
    }
  }

  /** Every row of a prepared query, fetched page by page. */
  async all(query: string, params: Params = [], fetchSize = 1000, options: BulkOptions = {}): Promise<Row[]> {
    const rows: Row[] = [];
    let pageState: string | undefined;
    do {
      const result = await this.execute(query, params, { fetchSize, pageState, autoPage: false, ...options });
      rows.push(...result.rows);
      pageState = result.pageState ?? undefined;
    } while (pageState);
    return rows;
  }

  /** Schema statements (DDL) cannot be prepared; only trusted, validated text reaches here. */
  async executeDdl(statement: string): Promise<void> {
    await this.client.execute(statement, [], { prepare: false, readTimeout: 30_000 });
  }

  async ping(): Promise<void> {
    await this.execute('SELECT release_version FROM system.local');
  }

  async close(): Promise<void> {
    await this.client.shutdown();
  }

  private async withDeadline<T>(operation: Promise<T>, readTimeoutMs?: number): Promise<T> {
    const deadlineMs = readTimeoutMs === undefined ? this.deadlineMs : readTimeoutMs + 250;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new errors.OperationTimedOutError(`no answer within ${deadlineMs} ms`)),
        deadlineMs,
      );
    });
    try {
      return await Promise.race([operation, deadline]);
    } catch (error) {
      throw this.translate(error);
    } finally {
      clearTimeout(timer);
    }
  }

  private translate(error: unknown): unknown {
    if (
      error instanceof errors.NoHostAvailableError ||
      error instanceof errors.OperationTimedOutError ||
      error instanceof errors.BusyConnectionError ||
      // A bare DriverError is a connection-level failure ("Socket was closed"); subclasses are not.
      (error instanceof errors.DriverError && error.constructor === errors.DriverError) ||
      (error instanceof errors.ResponseError && OUTAGE_CODES.has(error.code))
    ) {
      this.logger.debug(`Cassandra unavailable: ${(error as Error).message}`);
      return AppError.dependencyUnavailable('cassandra', error);
    }
    return error;
  }
}

function isInvalidRequest(error: unknown): boolean {
  return error instanceof errors.ResponseError && (error.code === codes.invalid || error.code === codes.protocolError);
}

function decodePageToken(token: string): string {
  if (!/^[A-Za-z0-9_-]{1,4096}$/.test(token)) throw AppError.of('INVALID_PAGE_TOKEN');
  return Buffer.from(token, 'base64url').toString('hex');
}
