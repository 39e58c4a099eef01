// A configuration problem: the message names the key, what was expected and (for non-secrets) what was given.
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}
