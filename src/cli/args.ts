// Command-line arguments for every subcommand: node's parseArgs, strict, with errors a user can act
// on (which flag, what form), never a stack trace.
import { parseArgs } from 'node:util';

/** A mistake in how the command was called: printed as a message, with the command's usage hint. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

type Options = Record<string, { type: 'string' | 'boolean'; short?: string }>;
type Values<O extends Options> = { [K in keyof O]?: O[K]['type'] extends 'boolean' ? boolean : string };

/**
 * Parses `args` for `command`. `numeric` flags take a value that may be negative (`--exp -100`),
 * which parseArgs would otherwise read as another flag.
 */
export function parseCommandArgs<O extends Options>(command: string, args: readonly string[], options: O, numeric: readonly string[] = []): Values<O> {
  const joined: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const next = args[i + 1];
    if (numeric.includes(arg.slice(2)) && arg.startsWith('--') && next !== undefined && /^-\d/.test(next)) {
      joined.push(`${arg}=${next}`);
      i++;
    } else joined.push(arg);
  }
  try {
    return parseArgs({ args: joined, options, strict: true, allowPositionals: false }).values as Values<O>;
  } catch (err) {
    throw new UsageError(`${describe(err)} (see: qdrant-auth-proxy ${command} --help)`);
  }
}

function describe(err: unknown): string {
  const { code, message } = err as { code?: string; message?: string };
  const named = /--[\w-]+/.exec(message ?? '')?.[0] ?? /'(-[^', ]+)/.exec(message ?? '')?.[1];
  switch (code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `unknown option ${named ?? ''}`.trim();
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      return named ? `${named} expects a value` : (message ?? 'invalid option value');
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return `unexpected argument ${/'([^']+)'/.exec(message ?? '')?.[1] ?? ''}`.trim();
    default:
      return message ?? String(err);
  }
}
