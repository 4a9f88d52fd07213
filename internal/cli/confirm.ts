// A yes/no question on the terminal: asked on stderr so that stdout stays
// data, and anything but "y" or "yes" is a no.
import { createInterface } from "node:readline/promises";

export async function askYesNo(question: string): Promise<boolean> {
  const prompt = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await prompt.question(`${question} [y/N] `);
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    prompt.close();
  }
}
