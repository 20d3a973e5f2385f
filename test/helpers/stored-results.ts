/** What a test watching `rcpt bulk` from outside reads of its SQLite job database. */
import { existsSync } from 'node:fs';

import Database from 'better-sqlite3';

/** Results stored in the job database `db` so far (0 while it or its schema does not exist). */
export function storedResults(db: string): number {
  if (!existsSync(db)) return 0;
  let reader: Database.Database | null = null;
  try {
    reader = new Database(db, { readonly: true, fileMustExist: true });
    return (reader.prepare('SELECT count(*) AS n FROM results').get() as { n: number } | undefined)?.n ?? 0;
  } catch {
    return 0; // not created yet, or the schema is being written
  } finally {
    reader?.close();
  }
}
