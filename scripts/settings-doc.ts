/**
 * Writes docs/settings.md from the setting declarations (`npm run docs:settings`).
 * A test fails when the file and the declarations disagree.
 */
import { writeFileSync } from 'node:fs';
import { renderSettingsDoc } from '../src/server/settings/index.ts';

const target = new URL('../docs/settings.md', import.meta.url);
writeFileSync(target, renderSettingsDoc());
process.stdout.write(`wrote ${target.pathname}\n`);
