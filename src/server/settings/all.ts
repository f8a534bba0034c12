import { adminSettings } from './admin.ts';
import { configSettings } from './config-file.ts';
import { httpSettings } from './http.ts';
import { listeningSettings } from './listening.ts';
import { loggingSettings } from './logging.ts';
import { processSettings } from './processes.ts';
import { protectionSettings } from './protection.ts';
import { recyclingSettings } from './recycling.ts';
import { scalingSettings } from './scaling.ts';
import type { Setting, SettingSource } from './setting.ts';
import { telemetrySettings } from './telemetry.ts';

/** Every setting of `peregrine serve`, by camelCase key, in the order the docs list them. */
export const SETTINGS = {
  ...configSettings,
  ...listeningSettings,
  ...adminSettings,
  ...processSettings,
  ...scalingSettings,
  ...recyclingSettings,
  ...httpSettings,
  ...protectionSettings,
  ...loggingSettings,
  ...telemetrySettings,
} as const;

/** The key of a setting. */
export type SettingKey = keyof typeof SETTINGS;

type ValueOf<S> = S extends Setting<infer T> ? T : never;

/** The resolved value of every setting. */
export type ServerSettings = { -readonly [K in SettingKey]: ValueOf<(typeof SETTINGS)[K]> };

/** Where each resolved value came from. */
export type SettingSources = Record<SettingKey, SettingSource>;

/** The settings as a list (declaration order). */
export function settingList(): Array<[SettingKey, Setting]> {
  return Object.entries(SETTINGS) as Array<[SettingKey, Setting]>;
}
