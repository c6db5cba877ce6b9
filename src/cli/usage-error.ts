/** The command line itself is wrong (a missing argument, a bad flag): printed with the command's usage, exit status 2. */
export class UsageError extends Error {}
