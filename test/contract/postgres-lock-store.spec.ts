import { PostgresLockStore } from 'nestjs-cron-lock/postgres';
import { describeLockStoreContract } from './lock-store.contract.js';
import { dropTable, newPool, uniqueTable } from '../support/postgres.js';

describeLockStoreContract('PostgresLockStore', async () => {
  const pool = newPool();
  const table = uniqueTable('contract');
  const store = new PostgresLockStore(pool, { table, logger: false });
  return {
    store,
    close: async () => {
      await store.close();
      await dropTable(pool, table);
      await pool.end();
    },
  };
});

// The statements a pooler without prepared-statement support gets.
describeLockStoreContract('PostgresLockStore with unnamed statements', async () => {
  const pool = newPool();
  const table = uniqueTable('contract_unnamed');
  const store = new PostgresLockStore(pool, { table, preparedStatements: false, logger: false });
  return {
    store,
    close: async () => {
      await store.close();
      await dropTable(pool, table);
      await pool.end();
    },
  };
});
