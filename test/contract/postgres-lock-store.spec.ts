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
