// calctl's command line: global flags, one module per verb (verbs/), and
// the mapping of outcomes to exit codes.
import { Command, CommanderError } from "commander";
import {
  type CliContext,
  createContext,
  DEFAULT_URL,
  type GlobalOptions,
  type Output,
  resolveUrl,
} from "./context.js";
import { describeFailure, EXIT_OK, EXIT_USAGE } from "./errors.js";
import { addVerb } from "./verbs/add.js";
import { editVerb } from "./verbs/edit.js";
import { feedVerb } from "./verbs/feed.js";
import { freeVerb } from "./verbs/free.js";
import { importVerb } from "./verbs/import.js";
import { listVerbs } from "./verbs/list.js";
import { rmVerb } from "./verbs/rm.js";
import { showVerb } from "./verbs/show.js";
import { watchVerb } from "./verbs/watch.js";

/** Runs a verb with the context its flags and the environment describe. */
export type WithContext = <Options>(
  verb: (ctx: CliContext, args: string[], options: Options) => Promise<void>,
) => (...commanderArgs: unknown[]) => Promise<void>;

/** A verb module: adds its command (arguments, flags, help) to the program. */
export type Verb = (program: Command, withContext: WithContext) => void;

// Verbs, in the order --help lists them.
const VERBS: Verb[] = [
  addVerb,
  listVerbs,
  showVerb,
  editVerb,
  rmVerb,
  watchVerb,
  importVerb,
  feedVerb,
  freeVerb,
];

export function buildProgram(env: NodeJS.ProcessEnv, output: Output, version: string): Command {
  const program = new Command("calctl")
    .description(
      "Your calendar from the terminal: add, list, show, edit and remove events; import .ics files, share a feed, find free time.",
    )
    .version(version)
    .option("--url <url>", `the cal_service API (env CAL_URL; default ${DEFAULT_URL})`)
    .option("--user <name>", "whose calendar (env CAL_USER; default your login name)")
    .option(
      "--tz <zone>",
      "IANA time zone to read and show times in (env TZ; default the system's)",
    )
    .option("--json", "print the API's JSON instead of tables")
    .addHelpText(
      "after",
      `
Environment: CAL_URL and CAL_USER (as --url and --user), TZ (as --tz), NO_COLOR (no colour).
Exit status: 0 done, 1 an error from the server or the network, 2 a usage error.`,
    )
    .showHelpAfterError("(calctl --help shows usage)")
    .exitOverride()
    .configureOutput({ writeOut: output.out, writeErr: output.err });

  const withContext: WithContext =
    (verb) =>
    async (...commanderArgs) => {
      const command = commanderArgs.at(-1) as Command;
      const ctx = createContext(command.optsWithGlobals<GlobalOptions>(), env, output);
      await verb(ctx, command.args, command.opts() as Parameters<typeof verb>[2]);
    };
  for (const verb of VERBS) verb(program, withContext);
  // Subcommands fail and print like the program does.
  for (const command of program.commands) {
    command.exitOverride().configureOutput({ writeOut: output.out, writeErr: output.err });
  }
  return program;
}

/** Parses `argv` (without node and the script), runs the verb, and returns the exit code. */
export async function runCalctl(
  argv: string[],
  env: NodeJS.ProcessEnv,
  output: Output,
  version: string,
): Promise<number> {
  const program = buildProgram(env, output, version);
  try {
    await program.parseAsync(argv, { from: "user" });
    return EXIT_OK;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Commander has printed the help, version or complaint already.
      return error.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
    }
    let url: string;
    try {
      url = resolveUrl(program.opts<GlobalOptions>(), env);
    } catch {
      url = DEFAULT_URL;
    }
    const { line, exitCode } = describeFailure(error, url);
    output.err(`calctl: ${line}\n`);
    return exitCode;
  }
}
