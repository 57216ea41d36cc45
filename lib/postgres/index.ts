export {
  PostgresLockStore,
  type PostgresLockStoreOptions,
} from '../stores/postgres/postgres-lock.store.js';
export {
  DEFAULT_POSTGRES_SCHEMA,
  DEFAULT_POSTGRES_TABLE,
  createTableSql,
  lockTable,
  type LockTable,
} from '../stores/postgres/postgres-table.js';
