// Process log: pino JSON lines on stdout. Secret-bearing paths are redacted by fixed paths set here,
// never from input; code also avoids logging credentials in the first place.
import { type Logger, pino } from 'pino';

export type { Logger };

const PINO_LEVEL = { TRACE: 'trace', DEBUG: 'debug', INFO: 'info', WARN: 'warn', ERROR: 'error' } as const;

export const REDACT_PATHS = [
  'api_key',
  'alt_api_key',
  'read_only_api_key',
  'token',
  'authorization',
  '*.api_key',
  '*.alt_api_key',
  '*.read_only_api_key',
  '*.authorization',
  '*["api-key"]',
  'metadata.authorization',
  'metadata["api-key"]',
];

export function createLogger(level: keyof typeof PINO_LEVEL, destination: pino.DestinationStream = pino.destination(1)): Logger {
  return pino(
    {
      level: PINO_LEVEL[level],
      base: { name: 'qdrant-auth-proxy' },
      redact: { paths: REDACT_PATHS, censor: '[Redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
}

export function setLogLevel(logger: Logger, level: keyof typeof PINO_LEVEL): void {
  logger.level = PINO_LEVEL[level];
}
