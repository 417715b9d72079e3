/** The SQLite pragmas `npm start` opens the dev server's file with, from TEMPORAL_SYNC. */
import { sqlitePragmasFromEnv } from '../../stack/temporal-server';

test('by default the write-ahead log is forced to the disk at every commit', () => {
  expect(sqlitePragmasFromEnv({})).toEqual(['journal_mode=WAL', 'synchronous=FULL']);
  expect(sqlitePragmasFromEnv({ TEMPORAL_SYNC: ' ON ' })).toEqual(['journal_mode=WAL', 'synchronous=FULL']);
});

test('TEMPORAL_SYNC=off syncs only at checkpoints', () => {
  expect(sqlitePragmasFromEnv({ TEMPORAL_SYNC: 'off' })).toEqual(['journal_mode=WAL', 'synchronous=NORMAL']);
});

test('any other value is refused, naming the setting', () => {
  expect(() => sqlitePragmasFromEnv({ TEMPORAL_SYNC: 'fast' })).toThrow('TEMPORAL_SYNC=fast: use on (the default) or off');
});
