/** `npm run cli -- <command>`: operator commands. */
import { connectDatabase } from './db/database';
import { migrateDatabase } from './db/migrate';
import { loadConfigOrExit } from './lifecycle';

const USAGE = 'usage: npm run cli -- db migrate';

const config = loadConfigOrExit();
const [group, command] = process.argv.slice(2);

if (group === 'db' && command === 'migrate') {
  if (!config.DATABASE_URL) {
    process.stderr.write(
      'db migrate needs DATABASE_URL (npm start migrates its embedded database by itself).\n',
    );
    process.exit(1);
  }
  const database = connectDatabase(config.DATABASE_URL, { poolSize: 1 });
  await migrateDatabase(database);
  await database.close();
  process.stdout.write('migrations applied\n');
} else {
  process.stderr.write(`${USAGE}\n`);
  process.exit(2);
}
