/** Settings of `peregrine serve`: declared once, resolved from defaults, a config file, env and flags. */
export {
  SETTINGS,
  type ServerSettings,
  type SettingKey,
  type SettingSources,
  settingList,
} from './all.ts';
export { loadConfigFile } from './config-file.ts';
export { renderHelp, renderSettingsDoc } from './docs.ts';
export type { LogFormat, LogLevel } from './logging.ts';
export {
  type CliValues,
  type CommandLine,
  configValue,
  describeValue,
  parseCommandLine,
  type ResolvedSettings,
  resolveSettings,
  type SettingsInput,
  settingOptions,
  toConfigObject,
} from './resolve.ts';
export {
  type Address,
  camelName,
  envName,
  formatAddress,
  parseAddress,
  type Setting,
  SettingError,
  type SettingSource,
} from './setting.ts';
