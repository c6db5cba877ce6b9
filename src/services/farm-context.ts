/** What the API's services share: the database, storage, queues, Redis and how to sign URLs. */
import type { Redis } from 'ioredis';
import type { Config } from '../config/env.js';
import type { Db } from '../db/database.js';
import type { FarmQueues } from '../queue/farm-queues.js';
import type { Storage } from '../storage/storage.js';
import type { Logger } from '../logger.js';
import type { UrlSigner } from './url-signer.js';

export interface FarmContext {
  config: Config;
  db: Db;
  storage: Storage;
  queues: FarmQueues;
  /** A plain (non-blocking) connection for publishes and keys. */
  redis: Redis;
  signer: UrlSigner;
  baseUrl: string;
  log: Logger;
}
