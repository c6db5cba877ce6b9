/** zod issues as one line a person reads: each field's path and what is wrong with it. */
import type { z } from 'zod';

export function formatIssues(error: z.ZodError, root = ''): string {
  return error.issues
    .map((i) => `${[root, ...i.path.map(String)].filter(Boolean).join('.') || '(body)'}: ${i.message}`)
    .join('; ');
}
