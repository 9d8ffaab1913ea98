// Where the tests find their inputs. They run against the installed package (embed/test.sh
// installs the tarball into a fresh folder and copies these tests there), so the source tree
// is named by EMBED_DIR; the raw module by BREAKER_WASM.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const EMBED = process.env.EMBED_DIR ?? fileURLToPath(new URL('../..', import.meta.url));
export const WASM = process.env.BREAKER_WASM ?? join(EMBED, '..', '..', 'target', 'breaker.wasm');
