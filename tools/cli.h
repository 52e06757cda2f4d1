/*
 * The `rpctrace` command's sub-commands. Each takes the arguments after
 * "rpctrace" (argv[0] is the command's name) and returns the exit status:
 * 0 success, 1 failure, 2 usage error (`run` replaces the process with the
 * program; it returns only when it could not start it).
 */
#ifndef RPCTRACE_TOOLS_CLI_H
#define RPCTRACE_TOOLS_CLI_H

#include <stdio.h>

#define RTT_EXIT_OK 0
#define RTT_EXIT_FAIL 1
#define RTT_EXIT_USAGE 2

int rtt_cmd_run(int argc, char **argv);
int rtt_cmd_collect(int argc, char **argv);
int rtt_cmd_view(int argc, char **argv);
int rtt_cmd_html(int argc, char **argv);

/* Help texts (the whole text of `rpctrace <cmd> --help`). */
extern const char rtt_help_run[];
extern const char rtt_help_collect[];
extern const char rtt_help_view[];
extern const char rtt_help_html[];

/* "rpctrace CMD: unknown option 'X'" (or the getopt failure at argv[optind
 * - 1]) and "Try 'rpctrace CMD --help'." on stderr; returns RTT_EXIT_USAGE. */
int rtt_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The message for the getopt_long result `c` ('?' or ':') just returned
 * while parsing argv; returns RTT_EXIT_USAGE. */
int rtt_option_error(const char *cmd, int c, char **argv);

#endif /* RPCTRACE_TOOLS_CLI_H */
