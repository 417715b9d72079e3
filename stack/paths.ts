import { existsSync } from 'node:fs';
import path from 'node:path';

/** The project root: the nearest folder above this file with a package.json and stack/ (works from stack/ and dist/stack/). */
function findRoot(): string {
  let dir = __dirname;
  for (;;) {
    if (existsSync(path.join(dir, 'package.json')) && existsSync(path.join(dir, 'stack', 'mongo-java-server'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`cannot find the project root above ${__dirname}`);
    dir = parent;
  }
}

export const ROOT = findRoot();
/** Everything provisioning installs lives here (git-ignored). */
export const TOOLS_DIR = path.join(ROOT, '.tools');
/** Local persistent state for `npm start` (git-ignored). */
export const DATA_DIR = path.join(ROOT, '.data');
